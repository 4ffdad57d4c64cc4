//! The C ABI, used from C: a program built by cc against aotload.h and libaotload.

use std::process::Command;

use crate::common::*;

const HARNESS: &str = r#"
#include <stdio.h>
#include <string.h>
#include "aotload.h"

int main(int argc, char **argv) {
    if (aotload_open("/nonexistent/image.so") != NULL) return 10;
    if (strstr(aotload_last_error(), "/nonexistent/image.so") == NULL) return 11;

    aotload_image *img = aotload_open(argv[1]);
    if (!img) { fprintf(stderr, "open: %s\n", aotload_last_error()); return 12; }
    long (*prime_at)(long) = (long (*)(long))aotload_lookup(img, "prime_at");
    long (*apply_op)(long, long, long) = (long (*)(long, long, long))aotload_lookup(img, "apply_op");
    if (!prime_at || !apply_op) return 13;
    if (aotload_lookup(img, "no_such_function") != NULL) return 14;
    size_t len = 0;
    const uint8_t *data = aotload_image_data(img, &len);
    if (aotload_fptr(img, aotload_nfvars(img)) != NULL) return 15;
    if (aotload_gvar(img, aotload_ngvars(img)) != NULL) return 16;
    printf("prime_at(10)=%ld apply_op(2,6,7)=%ld data=%zu first=%c target=%s\n",
           prime_at(10), apply_op(2, 6, 7), len, data[0], aotload_target_name(img));
    aotload_close(img);
    return 0;
}
"#;

#[test]
fn c_programs_open_images_through_the_c_abi() {
    let dir = scratch("capi");
    std::fs::write(dir.join("harness.c"), HARNESS).unwrap();
    let exe = dir.join("harness");
    cc_with_aotload(&dir.join("harness.c"), &exe, &[]);
    let image = example_image("capi", &["--export-all"]);
    let out = Command::new(&exe).arg(&image).output().unwrap();
    let data = std::fs::read(data_file()).unwrap();
    assert!(
        out.status.success(),
        "harness failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let chosen = aotload::Image::open(&image, &Default::default())
        .unwrap()
        .target_name()
        .to_string();
    let expected = format!(
        "prime_at(10)=31 apply_op(2,6,7)=42 data={} first={} target={chosen}\n",
        data.len(),
        data[0] as char
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}

const METHODS_HARNESS: &str = r#"
#include <stdio.h>
#include "aotload.h"

static long new_g(long x) { return x + 1000; }

int main(int argc, char **argv) {
    aotload_method_table *table = aotload_method_table_new();
    aotload_image *sys = aotload_open_in(table, argv[1], NULL);
    if (!sys) { printf("sys: %s\n", aotload_last_error()); return 1; }
    if (aotload_method_table_define(table, "f", "i64 (i64)", 1, (const void *)new_g) != -1) return 2;
    aotload_method_table_redefine(table, "g", "i64 (i64)", 42, (const void *)new_g);
    aotload_image *pkg = aotload_open_in(table, argv[2], NULL);
    if (!pkg) { printf("pkg: %s\n", aotload_last_error()); return 3; }
    for (unsigned i = 0; i < aotload_ninvalidated(pkg); i++) {
        const char *method, *reason, *culprit;
        aotload_invalidated(pkg, i, &method, &reason, &culprit);
        printf("invalid %s (culprit %s)\n", method, culprit);
    }
    long (*uses_f)(long) = (long (*)(long))aotload_lookup(pkg, "uses_f");
    printf("uses_f(5)=%ld uses_g=%p\n", uses_f(5), aotload_lookup(pkg, "uses_g"));
    aotload_close(pkg);
    aotload_close(sys);
    aotload_method_table_free(table);
    return 0;
}
"#;

#[test]
fn c_programs_use_method_tables() {
    let dir = scratch("capi-methods");
    std::fs::write(dir.join("methods.c"), METHODS_HARNESS).unwrap();
    let exe = dir.join("methods");
    cc_with_aotload(&dir.join("methods.c"), &exe, &[]);
    let (sys, pkg) = crate::methods::system_and_package();
    let out = Command::new(&exe).arg(sys).arg(pkg).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let invalid: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("invalid "))
        .collect();
    assert_eq!(invalid.len(), 7, "{stdout}");
    assert!(
        invalid.iter().all(|l| l.ends_with("(culprit g)")),
        "{stdout}"
    );
    assert!(stdout.contains("uses_f(5)=32 uses_g=(nil)"), "{stdout}");
}
