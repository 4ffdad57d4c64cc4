/* A Windows program (MinGW gcc) that uses a SQLite DLL and passes memory across the DLL's
   boundary both ways, which works only when the program and the DLL share one C runtime (each
   Microsoft C runtime has its own heap). SQLite is built with SQLITE_USE_MALLOC_H and SQLITE_USE_MSIZE, so that
   sqlite3_malloc is the C runtime's malloc and sqlite3_free its free. Prints what it got. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite3.h"

static int print_row(void *unused, int n, char **values, char **names) {
    (void)unused;
    (void)names;
    for (int i = 0; i < n; i++) printf("%s%s", i ? "|" : "", values[i] ? values[i] : "NULL");
    printf("\n");
    return 0;
}

int main(void) {
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;

    /* Allocated by the DLL, freed by the program. */
    for (int i = 0; i < 1000; i++) {
        char *s = sqlite3_mprintf("%s-%d-%.3f", "aotlink", i, i / 8.0);
        if (i == 999) printf("mprintf %s\n", s);
        free(s);
    }

    /* Allocated by the program, freed by the DLL through the destructor it was given. */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT upper(?1), length(?1)", -1, &st, 0) != SQLITE_OK) return 1;
    char *text = malloc(64);
    strcpy(text, "host-owned text");
    sqlite3_bind_text(st, 1, text, -1, free);
    if (sqlite3_step(st) != SQLITE_ROW) return 1;
    printf("bound %s %d\n", sqlite3_column_text(st, 0), sqlite3_column_int(st, 1));
    sqlite3_finalize(st);

    /* Allocated by the program, grown and measured by the DLL's C runtime (realloc, _msize),
       freed by the DLL. */
    char *grown = malloc(8);
    strcpy(grown, "x");
    for (int i = 1; i < 300; i++) {
        grown = sqlite3_realloc64(grown, (sqlite3_uint64)i * 40 + 8);
        if (!grown) { printf("realloc failed at %d\n", i); return 1; }
        strcat(grown, "x");
    }
    printf("grown %d msize-ok %d\n", (int)strlen(grown), sqlite3_msize(grown) >= strlen(grown) + 1);
    sqlite3_free(grown);

    /* Allocated by the DLL (an error message), freed by the program. */
    char *error = 0;
    sqlite3_exec(db, "SELECT * FROM missing", 0, 0, &error);
    printf("error %s\n", error ? error : "none");
    free(error);

    /* C99 math SQLite calls (libmingwex's, with msvcrt), and a workload. */
    const char *sql =
        "SELECT printf('%.15g|%.15g|%.15g|%.15g', acosh(2.0), log2(1024.0), trunc(-2.5), atanh(0.5));"
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT);"
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000) "
        "INSERT INTO t SELECT i, printf('n%05d', (i * 7919) % 2003) FROM c;"
        "SELECT count(*), min(name), max(name), sum(id) FROM t;";
    if (sqlite3_exec(db, sql, print_row, 0, &error) != SQLITE_OK) {
        printf("error %s\n", error);
        return 1;
    }
    sqlite3_close(db);
    printf("heap %s\n", _heapchk() == _HEAPOK ? "ok" : "BROKEN");
    printf("end\n");
    return 0;
}
