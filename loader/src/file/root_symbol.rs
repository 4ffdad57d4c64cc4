//! Finding the root symbol ([`ROOT_SYMBOL`]) in an image file. An ELF image is searched
//! through its dynamic symbol table's GNU hash table, as the dynamic loader's `dlsym` finds it
//! after `dlopen`: a few symbols compared instead of every export's name (building the list of
//! a 5,000-function image's exports was 15% of an open). LLD and the usual `cc` drivers write
//! that table. Other formats, and ELF files without it or with a malformed one, are scanned
//! export by export. (The SysV `.hash` table is not used: object's lookup in it indexes the
//! chains by values taken from the file, which a damaged table makes panic.)

use object::read::elf::{ElfFile, FileHeader, Sym, SymbolTable, VersionTable};
use object::{Object, ReadRef};

use crate::format::ROOT_SYMBOL;

/// The address of the exported root symbol, or `None` if the file exports none.
pub fn root_address(file: &object::File<'_>) -> Result<Option<u64>, object::Error> {
    let by_hash = match file {
        object::File::Elf64(elf) => by_gnu_hash(elf),
        object::File::Elf32(elf) => by_gnu_hash(elf),
        _ => None,
    };
    match by_hash {
        Some(address) => Ok(Some(address)),
        None => by_scan(file),
    }
}

/// Looks the root up through the GNU hash table; `None` (no table, a malformed one, or the
/// root not in it) falls back to the scan, so that a damaged table reads as a damaged file
/// (the checksum says so) rather than as a file without a root. object's `GnuHashTable::find`
/// divides by the bucket count, masks by the bloom filter's size and shifts the 32-bit hash:
/// tables without buckets, whose bloom size is not a power of two or whose shift is 32 or more
/// are not searched.
fn by_gnu_hash<'data, Elf, R>(elf: &ElfFile<'data, Elf, R>) -> Option<u64>
where
    Elf: FileHeader,
    R: ReadRef<'data>,
{
    let endian = elf.endian();
    let sections = elf.elf_section_table();
    let header = sections.gnu_hash_header(endian, elf.data()).ok()??;
    // The shift applies to the 32-bit hash, whatever the bloom filter's word size.
    if header.bucket_count.get(endian) == 0
        || !header.bloom_count.get(endian).is_power_of_two()
        || header.bloom_shift.get(endian) >= 32
    {
        return None;
    }
    let (table, link) = sections.gnu_hash(endian, elf.data()).ok()??;
    let symbols = dynamic_symbols(elf, link)?;
    let name = ROOT_SYMBOL.as_bytes();
    let hash = object::elf::gnu_hash(name);
    let (_, sym) = table.find(endian, name, hash, None, symbols, &VersionTable::default())?;
    defined_address::<Elf>(endian, sym)
}

/// The dynamic symbol table, if the hash table at hand is the one of that table.
fn dynamic_symbols<'data, 'file, Elf, R>(
    elf: &'file ElfFile<'data, Elf, R>,
    hash_link: object::SectionIndex,
) -> Option<&'file SymbolTable<'data, Elf, R>>
where
    Elf: FileHeader,
    R: ReadRef<'data>,
{
    let symbols = elf.elf_dynamic_symbol_table();
    (!symbols.is_empty() && symbols.section() == hash_link).then_some(symbols)
}

/// A symbol's address if it is defined here and visible to other objects (what `exports`
/// lists).
fn defined_address<Elf: FileHeader>(endian: Elf::Endian, sym: &Elf::Sym) -> Option<u64> {
    let defined = sym.st_shndx(endian) != object::elf::SHN_UNDEF;
    let global = sym.st_bind() != object::elf::STB_LOCAL;
    (defined && global).then(|| sym.st_value(endian).into())
}

/// Scans the file's exports for the root (Mach-O spells it with a leading underscore).
fn by_scan(file: &object::File<'_>) -> Result<Option<u64>, object::Error> {
    let format = file.format();
    let found = file
        .exports()?
        .iter()
        .find(|e| c_name(format, e.name()) == ROOT_SYMBOL.as_bytes())
        .map(|e| e.address());
    Ok(found)
}

/// A symbol name as C spells it (Mach-O prefixes `_`).
pub fn c_name(format: object::BinaryFormat, name: &[u8]) -> &[u8] {
    match format {
        object::BinaryFormat::MachO => name.strip_prefix(b"_").unwrap_or(name),
        _ => name,
    }
}
