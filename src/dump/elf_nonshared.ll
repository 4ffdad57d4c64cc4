; What glibc's libc_nonshared.a gives every library a C compiler driver links: atexit,
; at_quick_exit and pthread_atfork are not exported by libc.so.6 but defined in each object
; that calls them, passing its own __dso_handle, so that the handlers belong to it and run
; (exit handlers) or are dropped (fork handlers) when it is unloaded, in __cxa_finalize (see
; elf_finalize.ll). aotlink's LLD link has no libc_nonshared.a: an image that called atexit
; was refused by the dynamic loader (undefined symbol: atexit). Weak, so that code defining
; its own keeps it.
@__dso_handle = external hidden global i8

define weak hidden i32 @atexit(ptr %f) {
  %r = call i32 @__cxa_atexit(ptr %f, ptr null, ptr @__dso_handle)
  ret i32 %r
}

define weak hidden i32 @at_quick_exit(ptr %f) {
  %r = call i32 @__cxa_at_quick_exit(ptr %f, ptr @__dso_handle)
  ret i32 %r
}

define weak hidden i32 @pthread_atfork(ptr %prepare, ptr %parent, ptr %child) {
  %r = call i32 @__register_atfork(ptr %prepare, ptr %parent, ptr %child, ptr @__dso_handle)
  ret i32 %r
}

declare i32 @__cxa_atexit(ptr, ptr, ptr)
declare i32 @__cxa_at_quick_exit(ptr, ptr)
declare i32 @__register_atfork(ptr, ptr, ptr, ptr)
