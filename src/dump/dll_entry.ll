; The entry point of a Windows DLL image (platform/windows.toml, `constructor_entry`): runs the
; C constructors when the DLL is loaded and the destructors when it is unloaded, as MinGW's
; CRT does, without the CRT. LLD (with /lldmingw) lays out __CTOR_LIST__ and __DTOR_LIST__:
; a -1 sentinel, the entries, a null terminator. Constructors run last-registered first.
@__CTOR_LIST__ = external global [0 x ptr]
@__DTOR_LIST__ = external global [0 x ptr]

define i32 @ENTRY(ptr %module, i32 %reason, ptr %reserved) {
entry:
  switch i32 %reason, label %done [ i32 1, label %count
                                    i32 0, label %dtors ]
count:
  %n = phi i64 [ 0, %entry ], [ %next, %count ]
  %next = add i64 %n, 1
  %slot = getelementptr ptr, ptr @__CTOR_LIST__, i64 %next
  %f = load ptr, ptr %slot
  %end = icmp eq ptr %f, null
  br i1 %end, label %ctors, label %count
ctors:
  %i = phi i64 [ %n, %count ], [ %i1, %ctors.call ]
  %none = icmp eq i64 %i, 0
  br i1 %none, label %done, label %ctors.call
ctors.call:
  %cslot = getelementptr ptr, ptr @__CTOR_LIST__, i64 %i
  %c = load ptr, ptr %cslot
  call void %c()
  %i1 = sub i64 %i, 1
  br label %ctors
dtors:
  %j = phi i64 [ 1, %entry ], [ %j1, %dtors.call ]
  %dslot = getelementptr ptr, ptr @__DTOR_LIST__, i64 %j
  %d = load ptr, ptr %dslot
  %dend = icmp eq ptr %d, null
  br i1 %dend, label %done, label %dtors.call
dtors.call:
  call void %d()
  %j1 = add i64 %j, 1
  br label %dtors
done:
  ret i32 1
}
