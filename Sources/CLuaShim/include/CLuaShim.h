// CLuaShim: the C trampolines between Swift and Lua 5.4. Lua reports errors with longjmp, which
// must never cross a Swift frame, so every call that can raise goes through a function here that
// runs it under lua_pcall. It also owns the two run-away guards: a counting allocator with a cap
// (memory) and a count hook (instructions). It holds no policy: which libraries open, where
// `require` looks and what a plugin must return are decided in VerityLua.
#ifndef CLUASHIM_H
#define CLUASHIM_H
#include <stddef.h>
#include <lua.h>

/// Why the last protected call stopped, beyond Lua's own status code.
enum verity_stop {
    VERITY_STOP_NONE = 0,
    VERITY_STOP_INSTRUCTIONS = 1,
    VERITY_STOP_MEMORY = 2,
    VERITY_STOP_TIME = 3,
};

/// A host function written in Swift. It must not raise: it returns the number of results it
/// pushed, or -1 after pushing one error message string, which the C trampoline raises for it.
typedef int (*verity_hostfn)(lua_State *L);

/// Creates a state with a capped allocator and an instruction budget per protected call
/// (0 = no cap / no budget). `host` is an opaque pointer the host reads back with verity_host.
lua_State *verity_newstate(size_t memory_limit, long long instruction_budget, void *host);
/// Closes a state made by verity_newstate and frees its guard context.
void verity_close(lua_State *L);
/// The opaque host pointer given to verity_newstate or verity_set_host.
void *verity_host(lua_State *L);
/// Sets the opaque host pointer.
void verity_set_host(lua_State *L, void *host);
/// Changes the memory cap and the per-call instruction budget (0 = none).
void verity_set_limits(lua_State *L, size_t memory_limit, long long instruction_budget);
/// Sets the wall-clock limit of one outermost protected call in seconds (0 = none); the count
/// hook and the pattern matcher check it.
void verity_set_time_limit(lua_State *L, double seconds);
/// Charges `work` units (VM instructions, pattern-matching steps) to the running call and checks
/// its deadline; raises the run-away error when either is spent or a stop is already set. For C
/// code that runs inside a protected call only.
int verity_charge(lua_State *L, long long work);
/// Bytes the state has allocated now.
size_t verity_memory_used(lua_State *L);
/// The most bytes the state has held at once.
size_t verity_memory_peak(lua_State *L);

/// Opens base, string, table, math and utf8 (plus io and os when allow_io is non-zero) in
/// protected mode, removes dofile, loadfile, load and string.dump, and replaces string.find,
/// match, gmatch and gsub by the host's metered matcher (pattern.c). Returns a Lua status.
int verity_open_sandbox(lua_State *L, int allow_io);
/// Loads a chunk from a buffer in text mode only (binary chunks are refused). Pushes the function
/// or an error message; returns a Lua status. Never raises.
int verity_loadtext(lua_State *L, const char *buf, size_t len, const char *chunkname);
/// Calls the function below nargs arguments in protected mode with a traceback handler, after
/// resetting the instruction budget and arming the memory cap. Returns a Lua status; on error the
/// message is on the stack and verity_error_* describe it.
int verity_pcall(lua_State *L, int nargs, int nresults);
/// Why the last failed verity_pcall stopped (enum verity_stop).
int verity_error_stop(lua_State *L);
/// Source (chunk name without '@') of the innermost Lua frame of the last error, or "".
const char *verity_error_source(lua_State *L);
/// Line of the innermost Lua frame of the last error, or -1.
int verity_error_line(lua_State *L);
/// Pushes the traceback string of the last error (or nil).
void verity_push_traceback(lua_State *L);

/// Pushes a Lua function that calls `fn` with the host guards lifted and raises its error marker.
void verity_pushhostfn(lua_State *L, verity_hostfn fn);
/// Pushes `fn` with one upvalue taken from the top of the stack (popped).
void verity_pushhostclosure(lua_State *L, verity_hostfn fn);
/// Index of upvalue n of the running C function (lua_upvalueindex is a macro Swift cannot see).
int verity_upvalueindex(int n);
/// The registry pseudo-index (a macro Swift cannot see).
int verity_registryindex(void);

/// Source and first line of the Lua function at index idx ("" and -1 for a C function).
const char *verity_function_source(lua_State *L, int idx, int *line);

/// Installs the metered string.find, match, gmatch and gsub into the table on top of the stack.
void verity_open_patterns(lua_State *L);

/// Checks a file's syntax in text mode without running it; on failure copies "file:line: message"
/// into msg. Returns a Lua status. Used by the build plugin's tool.
int verity_check_file(const char *path, char *msg, size_t msg_size);

#endif
