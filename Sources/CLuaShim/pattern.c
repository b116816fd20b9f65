// The sandbox's string.find, string.match, string.gmatch and string.gsub: Lua 5.4 pattern
// semantics (manual section 6.4.1) over a matcher written for Verity that meters its own work.
// Lua's native matcher runs in C without the count hook, so one call such as
// string.find(("a"):rep(2000), (".-"):rep(5) .. "b") could backtrack for hours inside a single
// VM instruction. Here every step of the matcher (a pattern item tried at a subject position, a
// character scanned by %b) is counted and charged to the call's instruction budget in blocks of
// VERITY_PATTERN_BLOCK steps; each charge also checks the call's wall-clock deadline
// (verity_charge in CLuaShim.c). Plain finds use memmem (linear). Not here: the rest of the
// string library, which is Lua's own and linear in its input, bounded by the memory cap.
#define _GNU_SOURCE
#include "CLuaShim.h"

#include <ctype.h>
#include <lauxlib.h>
#include <string.h>

// MARK: - Matcher state

/// Matcher steps charged to the budget at once (one step costs about one VM instruction).
#define VERITY_PATTERN_BLOCK 1024
/// Captures per pattern, as in Lua.
#define VERITY_PATTERN_CAPTURES 32
/// Nesting of the recursive matcher before "pattern too complex", as in Lua.
#define VERITY_PATTERN_DEPTH 200

/// A capture still open (no closing parenthesis matched yet).
#define CAPTURE_OPEN (-1)
/// A position capture `()`.
#define CAPTURE_POSITION (-2)

typedef struct {
    const char *start;
    ptrdiff_t length;  // bytes, or CAPTURE_OPEN / CAPTURE_POSITION
} capture;

typedef struct {
    lua_State *L;
    const char *subject;      // first byte of the subject
    const char *subject_end;  // one past the last byte
    const char *pattern_end;  // one past the last byte of the pattern
    int depth;                // recursion left
    int captures;             // captures opened so far
    long long steps;          // steps not yet charged
    capture capture[VERITY_PATTERN_CAPTURES];
} matcher;

static void matcher_init(matcher *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp) {
    m->L = L;
    m->subject = s;
    m->subject_end = s + ls;
    m->pattern_end = p + lp;
    m->steps = 0;
}

/// Clears the captures before a match attempt at a new subject position.
static void matcher_restart(matcher *m) {
    m->captures = 0;
    m->depth = VERITY_PATTERN_DEPTH;
}

/// Counts one step; every VERITY_PATTERN_BLOCK steps, charges them (may raise).
static inline void step(matcher *m) {
    if (++m->steps >= VERITY_PATTERN_BLOCK) {
        verity_charge(m->L, m->steps);
        m->steps = 0;
    }
}

/// Charges the steps left over at the end of a call.
static void matcher_finish(matcher *m) {
    if (m->steps > 0) verity_charge(m->L, m->steps);
    m->steps = 0;
}

// MARK: - Character classes

/// Whether byte c is in the class named by letter k (`a`, `d`, `s`, ...; upper case negates).
static int in_class(unsigned char c, unsigned char k) {
    int r;
    switch (tolower(k)) {
    case 'a': r = isalpha(c); break;
    case 'c': r = iscntrl(c); break;
    case 'd': r = isdigit(c); break;
    case 'g': r = isgraph(c); break;
    case 'l': r = islower(c); break;
    case 'p': r = ispunct(c); break;
    case 's': r = isspace(c); break;
    case 'u': r = isupper(c); break;
    case 'w': r = isalnum(c); break;
    case 'x': r = isxdigit(c); break;
    case 'z': r = c == 0; break;  // NUL; deprecated in Lua 5.2 but still matched by 5.4
    default: return k == c;  // an escaped non-letter stands for itself
    }
    r = r != 0;
    return isupper(k) ? !r : r;
}

/// One past the single-character class that starts at p (`x`, `.`, `%x`, `[...]`).
static const char *class_end(matcher *m, const char *p) {
    char first = *p++;
    if (first == '%') {
        if (p >= m->pattern_end) luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (first == '[') {
        if (p < m->pattern_end && *p == '^') p++;
        // The first byte of a set is taken literally, even a ']'.
        do {
            if (p >= m->pattern_end) luaL_error(m->L, "malformed pattern (missing ']')");
            char c = *p++;
            if (c == '%') {
                if (p >= m->pattern_end) luaL_error(m->L, "malformed pattern (missing ']')");
                p++;
            }
        } while (p >= m->pattern_end || *p != ']');
        return p + 1;
    }
    return p;
}

/// Whether c is in the set `[...]` spanning set (at '[') to close (at its ']').
static int in_set(unsigned char c, const char *set, const char *close) {
    int want = 1;
    const char *p = set + 1;
    if (*p == '^') {
        want = 0;
        p++;
    }
    while (p < close) {
        if (*p == '%' && p + 1 < close) {
            p++;
            if (in_class(c, (unsigned char)*p)) return want;
            p++;
        } else if (p + 2 < close && p[1] == '-') {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2]) return want;
            p += 3;
        } else {
            if ((unsigned char)*p == c) return want;
            p++;
        }
    }
    return !want;
}

/// Whether the subject byte at s matches the single-character class p..end (exclusive).
static int single(matcher *m, const char *s, const char *p, const char *end) {
    if (s >= m->subject_end) return 0;
    unsigned char c = (unsigned char)*s;
    switch (*p) {
    case '.': return 1;
    case '%': return in_class(c, (unsigned char)p[1]);
    case '[': return in_set(c, p, end - 1);
    default: return (unsigned char)*p == c;
    }
}

// MARK: - Matching

static const char *match(matcher *m, const char *s, const char *p);

/// Longest run of the item p..end from s, then backs off one byte at a time until the rest of
/// the pattern (from end + 1) matches.
static const char *greedy(matcher *m, const char *s, const char *p, const char *end) {
    ptrdiff_t n = 0;
    while (single(m, s + n, p, end)) {
        step(m);
        n++;
    }
    for (; n >= 0; n--) {
        step(m);
        const char *r = match(m, s + n, end + 1);
        if (r) return r;
    }
    return NULL;
}

/// Shortest run of the item p..end from s that lets the rest of the pattern match.
static const char *lazy(matcher *m, const char *s, const char *p, const char *end) {
    for (;;) {
        step(m);
        const char *r = match(m, s, end + 1);
        if (r) return r;
        if (!single(m, s, p, end)) return NULL;
        s++;
    }
}

/// `%bxy` at s: a balanced run from x to its matching y.
static const char *balanced(matcher *m, const char *s, const char *p) {
    if (p + 1 >= m->pattern_end) luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->subject_end || *s != p[0]) return NULL;
    char open = p[0], close = p[1];
    int level = 1;
    while (++s < m->subject_end) {
        step(m);
        if (*s == close) {
            if (--level == 0) return s + 1;
        } else if (*s == open) {
            level++;
        }
    }
    return NULL;
}

static const char *open_capture(matcher *m, const char *s, const char *p, ptrdiff_t kind) {
    if (m->captures >= VERITY_PATTERN_CAPTURES) luaL_error(m->L, "too many captures");
    m->capture[m->captures].start = s;
    m->capture[m->captures].length = kind;
    m->captures++;
    const char *r = match(m, s, p);
    if (!r) m->captures--;
    return r;
}

static const char *close_capture(matcher *m, const char *s, const char *p) {
    int i = m->captures - 1;
    while (i >= 0 && m->capture[i].length != CAPTURE_OPEN) i--;
    if (i < 0) luaL_error(m->L, "invalid pattern capture");
    m->capture[i].length = s - m->capture[i].start;
    const char *r = match(m, s, p);
    if (!r) m->capture[i].length = CAPTURE_OPEN;
    return r;
}

/// `%1`..`%9`: the text of an earlier, closed capture again.
static const char *back_reference(matcher *m, const char *s, char digit) {
    int i = digit - '1';
    if (i < 0 || i >= m->captures || m->capture[i].length == CAPTURE_OPEN) {
        luaL_error(m->L, "invalid capture index %%%d", i + 1);
    }
    size_t n = (size_t)m->capture[i].length;
    if ((size_t)(m->subject_end - s) >= n && memcmp(m->capture[i].start, s, n) == 0) return s + n;
    return NULL;
}

/// Matches the pattern from p against the subject from s; returns one past the match or NULL.
static const char *match(matcher *m, const char *s, const char *p) {
    if (m->depth-- == 0) luaL_error(m->L, "pattern too complex");
    const char *r = NULL;
    for (;;) {
        step(m);
        if (p >= m->pattern_end) {
            r = s;
            break;
        }
        if (*p == '(') {
            if (p + 1 < m->pattern_end && p[1] == ')') r = open_capture(m, s, p + 2, CAPTURE_POSITION);
            else r = open_capture(m, s, p + 1, CAPTURE_OPEN);
            break;
        }
        if (*p == ')') {
            r = close_capture(m, s, p + 1);
            break;
        }
        if (*p == '$' && p + 1 == m->pattern_end) {
            r = s == m->subject_end ? s : NULL;
            break;
        }
        if (*p == '%' && p + 1 < m->pattern_end && p[1] == 'b') {
            s = balanced(m, s, p + 2);
            if (!s) break;
            p += 4;
            continue;
        }
        if (*p == '%' && p + 1 < m->pattern_end && p[1] == 'f') {
            p += 2;
            if (p >= m->pattern_end || *p != '[') luaL_error(m->L, "missing '[' after '%%f' in pattern");
            const char *end = class_end(m, p);
            unsigned char before = s == m->subject ? 0 : (unsigned char)s[-1];
            unsigned char here = s < m->subject_end ? (unsigned char)*s : 0;
            if (!in_set(before, p, end - 1) && in_set(here, p, end - 1)) {
                p = end;
                continue;
            }
            break;
        }
        if (*p == '%' && p + 1 < m->pattern_end && isdigit((unsigned char)p[1])) {
            s = back_reference(m, s, p[1]);
            if (!s) break;
            p += 2;
            continue;
        }
        const char *end = class_end(m, p);
        char suffix = end < m->pattern_end ? *end : 0;
        if (!single(m, s, p, end)) {
            if (suffix == '*' || suffix == '?' || suffix == '-') {
                p = end + 1;  // zero repetitions are fine
                continue;
            }
            break;
        }
        if (suffix == '?') {
            r = match(m, s + 1, end + 1);
            if (r) break;
            p = end + 1;
            continue;
        }
        if (suffix == '+') {
            r = greedy(m, s + 1, p, end);
            break;
        }
        if (suffix == '*') {
            r = greedy(m, s, p, end);
            break;
        }
        if (suffix == '-') {
            r = lazy(m, s, p, end);
            break;
        }
        s++;
        p = end;
    }
    m->depth++;
    return r;
}

// MARK: - Results

/// Pushes capture i of a match s..e (capture 0 of a pattern without captures is the match).
static void push_capture(matcher *m, int i, const char *s, const char *e) {
    if (i >= m->captures) {
        if (i != 0) luaL_error(m->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t n = m->capture[i].length;
    if (n == CAPTURE_OPEN) luaL_error(m->L, "unfinished capture");
    if (n == CAPTURE_POSITION) {
        lua_pushinteger(m->L, (lua_Integer)(m->capture[i].start - m->subject) + 1);
    } else {
        lua_pushlstring(m->L, m->capture[i].start, (size_t)n);
    }
}

/// Pushes every capture (or the whole match when there are none and s is given); returns the count.
static int push_captures(matcher *m, const char *s, const char *e) {
    int n = (m->captures == 0 && s) ? 1 : m->captures;
    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++) push_capture(m, i, s, e);
    return n;
}

/// A 1-based start position as Lua's string functions read it (negative counts from the end).
static size_t start_position(lua_Integer pos, size_t length) {
    if (pos > 0) return (size_t)pos;
    if (pos == 0) return 1;
    if (pos < -(lua_Integer)length) return 1;
    return length + (size_t)pos + 1;
}

/// Whether the pattern has no magic characters (then find may search it as plain text).
static int is_plain(const char *p, size_t lp) {
    for (size_t i = 0; i < lp; i++) {
        if (strchr("^$*+?.([%-", p[i]) && p[i] != 0) return 0;
    }
    return 1;
}

// MARK: - find, match, gmatch, gsub

static int find_or_match(lua_State *L, int find) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_position(luaL_optinteger(L, 3, 1), ls);
    if (init > ls + 1) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || is_plain(p, lp))) {
        const char *hit = lp == 0 ? s + init - 1 : memmem(s + init - 1, ls - (init - 1), p, lp);
        if (hit) {
            lua_pushinteger(L, (lua_Integer)(hit - s) + 1);
            lua_pushinteger(L, (lua_Integer)(hit - s) + (lua_Integer)lp);
            return 2;
        }
        luaL_pushfail(L);
        return 1;
    }
    int anchored = lp > 0 && *p == '^';
    if (anchored) {
        p++;
        lp--;
    }
    matcher m;
    matcher_init(&m, L, s, ls, p, lp);
    const char *at = s + init - 1;
    do {
        matcher_restart(&m);
        const char *e = match(&m, at, p);
        if (e) {
            matcher_finish(&m);
            if (find) {
                lua_pushinteger(L, (lua_Integer)(at - s) + 1);
                lua_pushinteger(L, (lua_Integer)(e - s));
                return push_captures(&m, NULL, NULL) + 2;
            }
            return push_captures(&m, at, e);
        }
    } while (at++ < m.subject_end && !anchored);
    matcher_finish(&m);
    luaL_pushfail(L);
    return 1;
}

static int metered_find(lua_State *L) { return find_or_match(L, 1); }
static int metered_match(lua_State *L) { return find_or_match(L, 0); }

/// The iterator gmatch returns; upvalues: subject, pattern, next position (0-based), end of the
/// last match (-1 for none, so that an empty match right after a match is skipped).
static int gmatch_next(lua_State *L) {
    size_t ls, lp;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
    lua_Integer position = lua_tointeger(L, lua_upvalueindex(3));
    lua_Integer last = lua_tointeger(L, lua_upvalueindex(4));
    matcher m;
    matcher_init(&m, L, s, ls, p, lp);
    for (const char *at = s + position; at <= m.subject_end; at++) {
        matcher_restart(&m);
        const char *e = match(&m, at, p);
        if (e && (lua_Integer)(e - s) != last) {
            matcher_finish(&m);
            lua_pushinteger(L, (lua_Integer)(e - s));
            lua_pushvalue(L, -1);
            lua_replace(L, lua_upvalueindex(3));
            lua_replace(L, lua_upvalueindex(4));
            return push_captures(&m, at, e);
        }
    }
    matcher_finish(&m);
    lua_pushinteger(L, (lua_Integer)ls + 1);
    lua_replace(L, lua_upvalueindex(3));
    return 0;
}

static int metered_gmatch(lua_State *L) {
    size_t ls;
    luaL_checklstring(L, 1, &ls);
    luaL_checkstring(L, 2);
    size_t position = start_position(luaL_optinteger(L, 3, 1), ls) - 1;
    if (position > ls) position = ls + 1;  // past the end: no match at all
    lua_settop(L, 2);
    lua_pushinteger(L, (lua_Integer)position);
    lua_pushinteger(L, -1);
    lua_pushcclosure(L, gmatch_next, 4);
    return 1;
}

/// Appends a replacement string with `%0`..`%9` and `%%` expanded.
static void add_template(matcher *m, luaL_Buffer *b, const char *s, const char *e, int repl) {
    size_t n;
    const char *t = lua_tolstring(m->L, repl, &n);
    const char *end = t + n;
    while (t < end) {
        step(m);
        const char *pct = memchr(t, '%', (size_t)(end - t));
        if (!pct) {
            luaL_addlstring(b, t, (size_t)(end - t));
            return;
        }
        luaL_addlstring(b, t, (size_t)(pct - t));
        pct++;
        if (pct >= end) luaL_error(m->L, "invalid use of '%%' in replacement string");
        if (*pct == '%') {
            luaL_addchar(b, '%');
        } else if (isdigit((unsigned char)*pct)) {
            if (*pct == '0') lua_pushlstring(m->L, s, (size_t)(e - s));
            else push_capture(m, *pct - '1', s, e);
            luaL_tolstring(m->L, -1, NULL);
            lua_remove(m->L, -2);
            luaL_addvalue(b);
        } else {
            luaL_error(m->L, "invalid use of '%%' in replacement string");
        }
        t = pct + 1;
    }
}

/// Appends the replacement of the match s..e: a template, a table lookup or a function's result
/// (false or nil keeps the match).
static void add_replacement(matcher *m, luaL_Buffer *b, const char *s, const char *e, int kind) {
    lua_State *L = m->L;
    if (kind == LUA_TNUMBER || kind == LUA_TSTRING) {
        add_template(m, b, s, e, 3);
        return;
    }
    if (kind == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e);
        lua_call(L, n, 1);
    } else {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    } else {
        luaL_addvalue(b);
    }
}

static int metered_gsub(lua_State *L) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int kind = lua_type(L, 3);
    lua_Integer most = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(L, kind == LUA_TNUMBER || kind == LUA_TSTRING || kind == LUA_TFUNCTION || kind == LUA_TTABLE,
                     3, "string/function/table");
    int anchored = lp > 0 && *p == '^';
    if (anchored) {
        p++;
        lp--;
    }
    const char *last = NULL;
    lua_Integer count = 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    matcher m;
    matcher_init(&m, L, s, ls, p, lp);
    const char *at = s;
    while (count < most) {
        matcher_restart(&m);
        const char *e = match(&m, at, p);
        if (e && e != last) {
            count++;
            add_replacement(&m, &b, at, e, kind);
            at = last = e;
        } else if (at < m.subject_end) {
            luaL_addchar(&b, *at++);
        } else {
            break;
        }
        if (anchored) break;
    }
    matcher_finish(&m);
    luaL_addlstring(&b, at, (size_t)(m.subject_end - at));
    luaL_pushresult(&b);
    lua_pushinteger(L, count);
    return 2;
}

void verity_open_patterns(lua_State *L) {
    lua_pushcfunction(L, metered_find);
    lua_setfield(L, -2, "find");
    lua_pushcfunction(L, metered_match);
    lua_setfield(L, -2, "match");
    lua_pushcfunction(L, metered_gmatch);
    lua_setfield(L, -2, "gmatch");
    lua_pushcfunction(L, metered_gsub);
    lua_setfield(L, -2, "gsub");
}
