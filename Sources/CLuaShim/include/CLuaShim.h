// CLuaShim: C trampolines so that a Lua error never longjmps through Swift frames.
#ifndef CLUASHIM_H
#define CLUASHIM_H
#include <lua.h>
int verity_shim_version(void);
#endif
