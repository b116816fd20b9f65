// CLuaShim: the only C between Swift and Lua. Every Lua call that can raise runs here under
// lua_pcall, so a Lua error (a longjmp) never unwinds a Swift frame. It also implements the two
// run-away guards: a counting allocator that refuses to grow past a cap while a script runs, and
// a count hook that ends a call after its instruction budget. Not here: which plugins exist, how
// `require` resolves, what errors mean to a user (all in VerityLua).
#include "CLuaShim.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// MARK: - Guard context

/// Instructions between two count-hook calls; the budget is exact to within this many.
#define VERITY_HOOK_STEP 1000

typedef struct verity_ctx {
    lua_State *L;             // main thread (the sandbox opens no coroutine library)
    void *host;               // opaque Swift owner
    size_t used;              // bytes allocated now
    size_t peak;              // most bytes allocated at once
    size_t limit;             // cap while a protected call runs; 0 = none
    int enforce;              // 1 while Lua code of a protected call runs
    long long budget;         // instructions per outermost call; 0 = none
    long long remaining;      // instructions left in the current call
    int counting;             // 1 while a protected call runs (off inside the message handler)
    int depth;                // nesting of verity_pcall
    int stop;                 // enum verity_stop of the current call
    double seconds;           // wall-clock limit per outermost call; 0 = none
    double deadline;          // monotonic time the current outermost call must end by; 0 = none
    int located;              // 1 once the current call's run-away stop has its location
    char source[256];         // innermost Lua frame of the last error
    int line;
} verity_ctx;

static verity_ctx *getctx(lua_State *L) {
    return *(verity_ctx **)lua_getextraspace(L);
}

/// Records the innermost Lua frame that has a current line (level 0 = running function).
static void record_location(lua_State *L, verity_ctx *c, int first_level) {
    lua_Debug ar;
    for (int level = first_level; level < 64 && lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar)) continue;
        if (strncmp(ar.source, "=[verity", 8) == 0) continue;  // the host's own prelude
        if (ar.currentline > 0) {
            const char *src = ar.source;
            if (src[0] == '@' || src[0] == '=') src++;
            snprintf(c->source, sizeof c->source, "%s", src);
            c->line = ar.currentline;
            return;
        }
    }
}

static void *guarded_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    verity_ctx *c = (verity_ctx *)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        c->used -= old;
        return NULL;
    }
    if (c->enforce && c->limit > 0 && nsize > old && c->used - old + nsize > c->limit) {
        if (c->stop == VERITY_STOP_NONE) {
            c->stop = VERITY_STOP_MEMORY;
            c->source[0] = 0;
            c->line = -1;
            if (c->L) record_location(c->L, c, 0);
        }
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p == NULL) return NULL;
    c->used = c->used - old + nsize;
    if (c->used > c->peak) c->peak = c->used;
    return p;
}

static double monotonic_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/// Raises the run-away error of the current stop. The stop stays set, so that every later check
/// in the same outermost call (a `__close` handler, a message handler, a script's own pcall)
/// raises again instead of running on.
static int raise_stop(lua_State *L, verity_ctx *c) {
    if (c->stop == VERITY_STOP_TIME) {
        lua_pushfstring(L, "wall-clock limit of %f seconds per call exceeded", c->seconds);
    } else if (c->stop == VERITY_STOP_MEMORY) {
        lua_pushliteral(L, "memory cap exceeded");
    } else {
        lua_pushfstring(L, "instruction budget of %I instructions per call exceeded", (lua_Integer)c->budget);
    }
    return lua_error(L);
}

int verity_charge(lua_State *L, long long work) {
    verity_ctx *c = getctx(L);
    if (!c->counting) return 0;
    if (c->stop != VERITY_STOP_NONE) return raise_stop(L, c);
    if (c->budget > 0) {
        c->remaining -= work;
        if (c->remaining < 0) {
            if (c->stop == VERITY_STOP_NONE) c->stop = VERITY_STOP_INSTRUCTIONS;
            return raise_stop(L, c);
        }
    }
    if (c->deadline > 0 && monotonic_now() > c->deadline) {
        if (c->stop == VERITY_STOP_NONE) c->stop = VERITY_STOP_TIME;
        return raise_stop(L, c);
    }
    return 0;
}

static void count_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    verity_charge(L, VERITY_HOOK_STEP);
}

static int panic_handler(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "verity: unprotected Lua error (a bug in the host): %s\n", msg ? msg : "?");
    abort();
    return 0;
}

static void drop_warning(void *ud, const char *msg, int tocont) {
    (void)ud; (void)msg; (void)tocont;
}

static void install_hook(lua_State *L, verity_ctx *c) {
    if (c->budget > 0 || c->seconds > 0) {
        lua_sethook(L, count_hook, LUA_MASKCOUNT, VERITY_HOOK_STEP);
    } else {
        lua_sethook(L, NULL, 0, 0);
    }
}

lua_State *verity_newstate(size_t memory_limit, long long instruction_budget, void *host) {
    verity_ctx *c = (verity_ctx *)calloc(1, sizeof(verity_ctx));
    if (c == NULL) return NULL;
    c->limit = memory_limit;
    c->budget = instruction_budget > 0 ? instruction_budget : 0;
    c->host = host;
    c->line = -1;
    c->counting = 0;
    c->remaining = c->budget;
    lua_State *L = lua_newstate(guarded_alloc, c);
    if (L == NULL) {
        free(c);
        return NULL;
    }
    c->L = L;
    *(verity_ctx **)lua_getextraspace(L) = c;
    lua_atpanic(L, panic_handler);
    lua_setwarnf(L, drop_warning, NULL);
    install_hook(L, c);
    return L;
}

void verity_close(lua_State *L) {
    verity_ctx *c = getctx(L);
    // lua_close runs pending __close handlers (and finalizers, which the sandbox refuses): give
    // them one call's budget, deadline and memory cap, so that closing cannot hang or balloon.
    c->enforce = 1;
    c->stop = VERITY_STOP_NONE;
    c->remaining = c->budget;
    c->deadline = c->seconds > 0 ? monotonic_now() + c->seconds : 0;
    c->counting = 1;
    lua_close(L);
    free(c);
}

void *verity_host(lua_State *L) { return getctx(L)->host; }
void verity_set_host(lua_State *L, void *host) { getctx(L)->host = host; }

void verity_set_limits(lua_State *L, size_t memory_limit, long long instruction_budget) {
    verity_ctx *c = getctx(L);
    c->limit = memory_limit;
    c->budget = instruction_budget > 0 ? instruction_budget : 0;
    c->remaining = c->budget;
    install_hook(L, c);
}

void verity_set_time_limit(lua_State *L, double seconds) {
    verity_ctx *c = getctx(L);
    c->seconds = seconds > 0 ? seconds : 0;
    install_hook(L, c);
}

size_t verity_memory_used(lua_State *L) { return getctx(L)->used; }
size_t verity_memory_peak(lua_State *L) { return getctx(L)->peak; }

// MARK: - Sandbox

/// `load` restricted to text chunks: the mode argument is always "t"; the env argument is kept
/// only when the caller gave one (an explicit nil is different from none for load).
static int text_only_load(lua_State *L) {
    int given = lua_gettop(L);
    lua_settop(L, 4);
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushliteral(L, "t");
    if (given >= 4) {
        lua_pushvalue(L, 4);
        lua_call(L, 4, LUA_MULTRET);
    } else {
        lua_call(L, 3, LUA_MULTRET);
    }
    return lua_gettop(L) - n;
}

/// After a protected call inside Lua: a run-away stop (budget or memory cap) must not be caught
/// by the script's own pcall, or a loop around pcall would run forever.
static int finish_pcall(lua_State *L, int status, int first) {
    verity_ctx *c = getctx(L);
    if (status != LUA_OK && c->stop != VERITY_STOP_NONE) {
        return lua_error(L);
    }
    if (status == LUA_OK) {
        lua_pushboolean(L, 1);
        lua_insert(L, first);
        return lua_gettop(L) - first + 1;
    }
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

static int guarded_pcall(lua_State *L) {
    luaL_checkany(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    return finish_pcall(L, status, 1);
}

/// The message handler the sandbox's xpcall installs around the script's own. Lua calls a
/// message handler at the point of the error, and when the error comes from the count hook (a
/// budget or deadline stop) hooks are still off there, so script code would run unmetered: after
/// a run-away stop the script's handler is skipped (finish_pcall re-raises the stop anyway).
static int sandbox_message_handler(lua_State *L) {
    verity_ctx *c = getctx(L);
    if (c->stop != VERITY_STOP_NONE) return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int guarded_xpcall(lua_State *L) {
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, sandbox_message_handler, 1);
    lua_replace(L, 2);
    lua_pushvalue(L, 1);
    lua_copy(L, 2, 1);
    lua_replace(L, 2);
    int status = lua_pcall(L, n - 2, LUA_MULTRET, 1);
    return finish_pcall(L, status, 2);
}

static int open_sandbox(lua_State *L) {
    int allow_io = (int)lua_tointeger(L, 1);
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    if (allow_io) {
        luaL_requiref(L, LUA_IOLIBNAME, luaopen_io, 1);
        luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 1);
    }
    lua_settop(L, 1);
    lua_pushnil(L);
    lua_setglobal(L, "dofile");
    lua_pushnil(L);
    lua_setglobal(L, "loadfile");
    lua_pushnil(L);
    lua_setglobal(L, "require");
    lua_getglobal(L, "load");
    lua_pushcclosure(L, text_only_load, 1);
    lua_setglobal(L, "load");
    lua_pushcfunction(L, guarded_pcall);
    lua_setglobal(L, "pcall");
    lua_pushcfunction(L, guarded_xpcall);
    lua_setglobal(L, "xpcall");
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    verity_open_patterns(L);
    lua_pop(L, 1);
    return 0;
}

int verity_open_sandbox(lua_State *L, int allow_io) {
    lua_pushcfunction(L, open_sandbox);
    lua_pushinteger(L, allow_io);
    return lua_pcall(L, 1, 0, 0);
}

int verity_loadtext(lua_State *L, const char *buf, size_t len, const char *chunkname) {
    return luaL_loadbufferx(L, buf, len, chunkname, "t");
}

// MARK: - Protected calls

/// Message handler: lifts the guards while it works (so that reporting cannot fail), records
/// where the error happened and a traceback, returns the message as a string, and puts the guards
/// back before returning: Lua runs the pending `__close` handlers after this handler, while the
/// protected call unwinds, and they must stay under the budget, the deadline and the memory cap.
/// It runs again for an error raised by a `__close` handler; the first run-away stop's location
/// is kept.
static int message_handler(lua_State *L) {
    verity_ctx *c = getctx(L);
    int saved_enforce = c->enforce, saved_counting = c->counting;
    c->enforce = 0;
    c->counting = 0;
    if (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TNUMBER) {
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
        lua_replace(L, 1);
    } else {
        lua_tostring(L, 1);
    }
    if (!c->located) {
        // The allocator already recorded where a memory stop happened.
        if (c->stop != VERITY_STOP_MEMORY || c->source[0] == 0) {
            c->source[0] = 0;
            c->line = -1;
            record_location(L, c, 1);
        }
        if (c->stop != VERITY_STOP_NONE) c->located = 1;
    }
    luaL_traceback(L, L, NULL, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "verity.traceback");
    lua_settop(L, 1);
    c->enforce = saved_enforce;
    c->counting = saved_counting;
    return 1;
}

int verity_pcall(lua_State *L, int nargs, int nresults) {
    verity_ctx *c = getctx(L);
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, message_handler);
    lua_insert(L, base);
    if (c->depth == 0) {
        c->stop = VERITY_STOP_NONE;
        c->located = 0;
        c->source[0] = 0;
        c->line = -1;
        c->remaining = c->budget;
        c->deadline = c->seconds > 0 ? monotonic_now() + c->seconds : 0;
        lua_pushnil(L);
        lua_setfield(L, LUA_REGISTRYINDEX, "verity.traceback");
    }
    int saved_enforce = c->enforce, saved_counting = c->counting;
    c->depth++;
    c->enforce = 1;
    c->counting = 1;
    // The guards stay armed until lua_pcall returns, that is until every __close handler of the
    // unwound frames has run.
    int status = lua_pcall(L, nargs, nresults, base);
    c->depth--;
    c->enforce = saved_enforce;
    c->counting = saved_counting;
    lua_remove(L, base);
    return status;
}

int verity_error_stop(lua_State *L) { return getctx(L)->stop; }
const char *verity_error_source(lua_State *L) { return getctx(L)->source; }
int verity_error_line(lua_State *L) { return getctx(L)->line; }

void verity_push_traceback(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, "verity.traceback");
}

// MARK: - Host functions

static int host_trampoline(lua_State *L) {
    verity_hostfn fn = (verity_hostfn)(uintptr_t)lua_touserdata(L, lua_upvalueindex(1));
    verity_ctx *c = getctx(L);
    int saved = c->enforce;
    c->enforce = 0;
    int n = fn(L);
    c->enforce = saved;
    if (n < 0) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
        return lua_error(L);
    }
    return n;
}

void verity_pushhostfn(lua_State *L, verity_hostfn fn) {
    lua_pushlightuserdata(L, (void *)(uintptr_t)fn);
    lua_pushcclosure(L, host_trampoline, 1);
}

void verity_pushhostclosure(lua_State *L, verity_hostfn fn) {
    lua_pushlightuserdata(L, (void *)(uintptr_t)fn);
    lua_insert(L, -2);
    lua_pushcclosure(L, host_trampoline, 2);
}

int verity_upvalueindex(int n) { return lua_upvalueindex(n); }
int verity_registryindex(void) { return LUA_REGISTRYINDEX; }

const char *verity_function_source(lua_State *L, int idx, int *line) {
    lua_Debug ar;
    lua_pushvalue(L, idx);
    if (!lua_getinfo(L, ">S", &ar) || ar.what[0] == 'C') {
        *line = -1;
        return "";
    }
    *line = ar.linedefined;
    const char *src = ar.source;
    if (src[0] == '@' || src[0] == '=') src++;
    return src;
}

// MARK: - Syntax check (build plugin tool)

int verity_check_file(const char *path, char *msg, size_t msg_size) {
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        snprintf(msg, msg_size, "%s: cannot create a Lua state", path);
        return LUA_ERRMEM;
    }
    int status = luaL_loadfilex(L, path, "t");
    if (status != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        snprintf(msg, msg_size, "%s", m ? m : "unknown error");
    } else {
        msg[0] = 0;
    }
    lua_close(L);
    return status;
}
