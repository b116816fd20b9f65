// libFuzzer target: the sandbox's metered string.find/match/gmatch/gsub (CLuaShim/pattern.c)
// against Lua 5.4's own string library on the same (subject, pattern) pair. Input: pattern bytes,
// a 0xFF byte, then subject bytes. The metered side runs under a small instruction budget; when
// it stops on the budget the pair is skipped (Lua's own matcher could then run for hours), else
// both sides must give the same results or the same error message. Any difference aborts.
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "CLuaShim.h"

static lua_State *native, *metered;

/// Appends the values from index `from` to the top as "type:value" items.
static void describe(lua_State *L, int from, char *out, size_t size) {
    size_t used = 0;
    out[0] = 0;
    for (int i = from; i <= lua_gettop(L); i++) {
        size_t n = 0;
        const char *s = luaL_tolstring(L, i, &n);
        int w = snprintf(out + used, size - used, "%s:%.*s|", luaL_typename(L, i), (int)(n > 200 ? 200 : n), s);
        lua_pop(L, 1);
        if (w < 0 || (size_t)w >= size - used) break;
        used += (size_t)w;
    }
}

static const char *calls[] = {
    "return function(s, p) return string.find(s, p) end",
    "return function(s, p) return string.find(s, p, 2) end",
    "return function(s, p) return string.match(s, p) end",
    "return function(s, p) return string.gsub(s, p, '<%0>') end",
    "return function(s, p) return string.gsub(s, p, function(...) return select('#', ...) end, 3) end",
    "return function(s, p) local n, last = 0, nil for a in string.gmatch(s, p) do n = n + 1 last = a if n > 100 then break end end return n, last end",
};
#define NCALLS (sizeof calls / sizeof calls[0])

static void load_calls(lua_State *L) {
    lua_createtable(L, NCALLS, 0);
    for (size_t i = 0; i < NCALLS; i++) {
        if (luaL_loadstring(L, calls[i]) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) abort();
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setglobal(L, "calls");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!native) {
        native = luaL_newstate();
        luaL_openlibs(native);
        load_calls(native);
        metered = verity_newstate(64 << 20, 2000000, NULL);
        if (verity_open_sandbox(metered, 0) != LUA_OK) abort();
        load_calls(metered);
    }
    const uint8_t *cut = memchr(data, 0xFF, size);
    size_t lp = cut ? (size_t)(cut - data) : size;
    const char *p = (const char *)data, *s = cut ? (const char *)cut + 1 : "";
    size_t ls = cut ? size - lp - 1 : 0;
    static char a[8192], b[8192];
    for (size_t k = 1; k <= NCALLS; k++) {
        lua_settop(metered, 0);
        lua_getglobal(metered, "calls");
        lua_rawgeti(metered, 1, (lua_Integer)k);
        lua_pushlstring(metered, s, ls);
        lua_pushlstring(metered, p, lp);
        int sb = verity_pcall(metered, 2, LUA_MULTRET);
        if (sb != LUA_OK && verity_error_stop(metered) != VERITY_STOP_NONE) continue;  // run-away: skipped
        describe(metered, 2, b, sizeof b);
        lua_settop(native, 0);
        lua_getglobal(native, "calls");
        lua_rawgeti(native, 1, (lua_Integer)k);
        lua_pushlstring(native, s, ls);
        lua_pushlstring(native, p, lp);
        int sa = lua_pcall(native, 2, LUA_MULTRET, 0);
        describe(native, 2, a, sizeof a);
        // Error messages carry the chunk's location on the native side only through the Lua
        // wrapper; both wrappers are the same text, so the strings must match exactly.
        if (sa != sb || (sa == LUA_OK && strcmp(a, b) != 0)) {
            fprintf(stderr, "pattern %.*s subject %.*s call %zu\nnative: %d %s\nmetered: %d %s\n",
                    (int)lp, p, (int)ls, s, k, sa, a, sb, b);
            abort();
        }
    }
    return 0;
}
