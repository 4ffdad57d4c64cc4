/* Runs a Lua script with a Lua library that is either linked in (DIRECT) or an aotlink image
 * opened with the aotload loader, whose functions are looked up by name. */
#include <stdio.h>
#include <stdlib.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#ifdef DIRECT
#define API(name) name
static int resolve(const char *path) { (void)path; return 0; }
#else
#include "aotload.h"
static lua_State *(*p_luaL_newstate)(void);
static void (*p_luaL_openlibs)(lua_State *);
static int (*p_luaL_loadstring)(lua_State *, const char *);
static int (*p_lua_pcallk)(lua_State *, int, int, int, lua_KContext, lua_KFunction);
static const char *(*p_lua_tolstring)(lua_State *, int, size_t *);
static void (*p_lua_close)(lua_State *);
#define API(name) p_##name
#define LOOKUP(image, name)                                                        \
    do {                                                                           \
        *(void **)&p_##name = (void *)aotload_lookup(image, #name);                \
        if (!p_##name) { fprintf(stderr, "no %s: %s\n", #name, aotload_last_error()); return 1; } \
    } while (0)
static int resolve(const char *path) {
    const char *target = getenv("AOTLOAD_TARGET");
    aotload_image *image = aotload_open_target(path, target && *target ? target : NULL);
    if (!image) { fprintf(stderr, "aotload_open: %s\n", aotload_last_error()); return 1; }
    fprintf(stderr, "target: %s\n", aotload_target_name(image));
    LOOKUP(image, luaL_newstate);
    LOOKUP(image, luaL_openlibs);
    LOOKUP(image, luaL_loadstring);
    LOOKUP(image, lua_pcallk);
    LOOKUP(image, lua_tolstring);
    LOOKUP(image, lua_close);
    return 0;
}
#endif

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: harness IMAGE SCRIPT\n"); return 2; }
    if (resolve(argv[1]) != 0) return 1;
    FILE *f = fopen(argv[2], "rb");
    if (!f) { perror(argv[2]); return 2; }
    static char script[1 << 16];
    size_t n = fread(script, 1, sizeof script - 1, f);
    script[n] = 0;
    fclose(f);
    lua_State *L = API(luaL_newstate)();
    API(luaL_openlibs)(L);
    if (API(luaL_loadstring)(L, script) != LUA_OK || API(lua_pcallk)(L, 0, 0, 0, 0, NULL) != LUA_OK) {
        printf("error: %s\n", API(lua_tolstring)(L, -1, NULL));
    }
    fflush(stdout);
    API(lua_close)(L);
    return 0;
}
