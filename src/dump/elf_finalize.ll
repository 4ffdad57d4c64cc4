; What a C compiler driver's crtbeginS.o does when a library is unloaded, for an ELF image whose
; code registers destructors of static objects with __cxa_atexit (C++): run them and forget
; them. aotlink's LLD link has no crtbegin, so without this they outlived a dlclose and the
; process jumped into unmapped code at exit. LLD defines __dso_handle (the image's start).
@__dso_handle = external hidden global i8
declare extern_weak void @__cxa_finalize(ptr)

define internal void @aotlink.finalize() {
entry:
  %have = icmp ne ptr @__cxa_finalize, null
  br i1 %have, label %call, label %done
call:
  call void @__cxa_finalize(ptr @__dso_handle)
  br label %done
done:
  ret void
}

@llvm.global_dtors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @aotlink.finalize, ptr null }]
