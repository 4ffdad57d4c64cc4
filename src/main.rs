fn main(){
    inkwell::targets::Target::initialize_x86(&Default::default());
    let c = inkwell::context::Context::create();
    let m = c.create_module("x");
    println!("{}", m.print_to_string().to_string());
    let r = lld_rs::link(lld_rs::LldFlavor::Elf, &["--version".to_string()]);
    println!("{:?}", r.ok());
}
