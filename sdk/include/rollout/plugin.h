/* Placeholder: the plugin SDK v1 header is being written (issue 3). */
#pragma once
