#include "CLuaShim.h"
int verity_shim_version(void) { return LUA_VERSION_NUM; }
