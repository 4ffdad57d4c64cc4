/* Runs a fixed SQL workload through the SQLite library named by argv[1] (dlopen), printing
   every row, so that two builds of the same sources can be compared by their output. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct sqlite3 sqlite3;
typedef int (*callback)(void *, int, char **, char **);

static int print_row(void *unused, int n, char **values, char **names) {
    (void)unused;
    (void)names;
    for (int i = 0; i < n; i++) printf("%s%s", i ? "|" : "", values[i] ? values[i] : "NULL");
    printf("\n");
    return 0;
}

static const char *const workload[] = {
    "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, x REAL, n INTEGER, data BLOB)",
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000) "
    "INSERT INTO t SELECT i, printf('name-%05d', (i * 7919) % 3001), (i * 0.37) - 500.25, "
    "(i * 2654435761) % 1000003, zeroblob(i % 17) FROM c",
    "CREATE INDEX t_name ON t(name)",
    "CREATE TABLE u AS SELECT id % 97 AS k, sum(x) AS s, count(*) AS c FROM t GROUP BY 1",
    "SELECT count(*), sum(n), printf('%.6f', avg(x)), min(name), max(name) FROM t",
    "SELECT k, printf('%.4f', s), c FROM u ORDER BY s DESC LIMIT 8",
    "SELECT t.id, u.c FROM t JOIN u ON u.k = t.id % 97 WHERE t.n % 101 = 3 ORDER BY t.id LIMIT 12",
    "SELECT name, n, rank() OVER (ORDER BY n DESC), printf('%.3f', sum(x) OVER (ORDER BY id ROWS 5 PRECEDING)) "
    "FROM t WHERE id % 211 = 0 ORDER BY id",
    "SELECT printf('%.12g|%.12g|%.12g', sqrt(2.0) * 1e6, exp(1.5), 1.0 / 3.0), upper('aotlink'), "
    "substr('hello world', 3, 5), replace('a-b-c', '-', '+'), length(hex(randomblob(0)))",
    "SELECT json_object('a', 1, 'b', json_array(1, 2.5, 'x')), json_extract('{\"p\":{\"q\":[4,5,6]}}', '$.p.q[1]')",
    "SELECT group_concat(id, ',') FROM (SELECT id FROM t WHERE name LIKE 'name-000%' ORDER BY id)",
    "UPDATE t SET x = x * 2 WHERE id % 3 = 0",
    "DELETE FROM t WHERE id % 5 = 0",
    "SELECT count(*), printf('%.6f', total(x)), sum(length(data)) FROM t",
    "SELECT quote(x'00ff10'), typeof(1e308 * 10), 9223372036854775807 + 0, cast('12.5e3' AS INTEGER)",
    "PRAGMA integrity_check",
};

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    int (*open)(const char *, sqlite3 **) = (int (*)(const char *, sqlite3 **))dlsym(lib, "sqlite3_open");
    int (*exec)(sqlite3 *, const char *, callback, void *, char **) =
        (int (*)(sqlite3 *, const char *, callback, void *, char **))dlsym(lib, "sqlite3_exec");
    int (*close)(sqlite3 *) = (int (*)(sqlite3 *))dlsym(lib, "sqlite3_close");
    const char *(*version)(void) = (const char *(*)(void))dlsym(lib, "sqlite3_libversion");
    if (!open || !exec || !close || !version) { fprintf(stderr, "missing symbols\n"); return 1; }
    sqlite3 *db = 0;
    if (open(":memory:", &db) != 0) { fprintf(stderr, "open failed\n"); return 1; }
    printf("version %s\n", version());
    for (size_t i = 0; i < sizeof workload / sizeof *workload; i++) {
        char *error = 0;
        printf("-- %zu\n", i);
        if (exec(db, workload[i], print_row, 0, &error) != 0) printf("error: %s\n", error);
    }
    close(db);
    printf("end\n");
    return 0;
}
