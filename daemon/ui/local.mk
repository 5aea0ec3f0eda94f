# The web dashboard: sessions, the session route to the API, and the pages
# from web/, built into the daemon as C arrays (ui_embed.sh).
daemon_ui_web = web/index.html web/app.js web/app.css web/icon.svg
daemon_ui_sources = daemon/ui/ui.c daemon/ui/ui.h daemon/ui/ui_session.c daemon/ui/ui_session.h \
	daemon/ui/ui_wait.c daemon/ui/ui_wait.h \
	daemon/ui/ui_assets.h
rolloutd_SOURCES += $(daemon_ui_sources)
nodist_rolloutd_SOURCES = daemon/ui/ui_assets.c
daemon/ui/ui_assets.c: $(daemon_ui_web) $(srcdir)/daemon/ui/ui_embed.sh
	$(AM_V_GEN)$(MKDIR_P) daemon/ui && \
	$(SHELL) $(srcdir)/daemon/ui/ui_embed.sh $(srcdir) $(daemon_ui_web) > $@.tmp && mv $@.tmp $@
CLEANFILES += daemon/ui/ui_assets.c
EXTRA_DIST += daemon/ui/ui_embed.sh $(daemon_ui_web) bench/ui-render
