#include "config.h"
#include <stdio.h>
int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	puts("daemon: not yet built");
	return 1;
}
