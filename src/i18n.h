/* gettext glue, included once per translation unit that shows text to people. */
#ifndef RELAYMAIL_I18N_H
#define RELAYMAIL_I18N_H

#include <libintl.h>

#define _(s) gettext(s)
#define N_(s) (s)

#endif
