/* Two builds at once, on two threads, from the same bitcode in memory: both must succeed and
 * produce images that open. Prints "ok".
 *
 * usage: two_threads KERNELS.bc WORKDIR */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aotlink.h>
#include <aotload.h>

struct job {
    const void *bc;
    size_t len;
    char output[4096];
    char cpu_target[64];
    int status;
    char error[1024];
};

static void *build(void *arg) {
    struct job *job = (struct job *)arg;
    aotlink_build *b = aotlink_build_new();
    job->status = aotlink_build_add_bitcode(b, "kernels.bc", job->bc, job->len) ||
                  aotlink_build_set(b, "export-all", NULL) ||
                  aotlink_build_set(b, "no-cache", NULL) ||
                  aotlink_build_set(b, "cpu-target", job->cpu_target) ||
                  aotlink_build_run(b, job->output);
    /* This thread's message, whatever the other thread did meanwhile. */
    snprintf(job->error, sizeof job->error, "%s", aotlink_last_error());
    aotlink_build_free(b);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) return 9;
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 8;
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *bc = malloc(len);
    if (fread(bc, 1, len, f) != len) return 8;
    fclose(f);

    struct job jobs[2];
    pthread_t threads[2];
    const char *targets[2] = {"generic", "generic;haswell"};
    for (int i = 0; i < 2; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].bc = bc;
        jobs[i].len = len;
        snprintf(jobs[i].output, sizeof jobs[i].output, "%s/thread%d.so", argv[2], i);
        snprintf(jobs[i].cpu_target, sizeof jobs[i].cpu_target, "%s", targets[i]);
        if (pthread_create(&threads[i], NULL, build, &jobs[i]) != 0) return 7;
    }
    for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < 2; i++) {
        if (jobs[i].status != 0) { printf("thread %d: %s\n", i, jobs[i].error); return 1; }
        aotload_image *img = aotload_open(jobs[i].output);
        if (!img) { printf("thread %d: %s\n", i, aotload_last_error()); return 2; }
        long long (*prime_at)(long long) = (long long (*)(long long))aotload_lookup(img, "prime_at");
        if (!prime_at || prime_at(10) != 31) { printf("thread %d: prime_at\n", i); return 3; }
        aotload_close(img);
    }
    printf("ok\n");
    free(bc);
    return 0;
}
