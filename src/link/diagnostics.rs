//! What a link shows: the command line it runs (with `--verbose`), and a failed linker's
//! diagnostics made into one line.

/// Prints `program args...` on stderr when `--verbose` asked for it.
pub(super) fn show_link_line(verbose: bool, program: &str, args: &[String]) {
    if verbose {
        eprintln!("aotlink: link: {program} {}", args.join(" "));
    }
}

/// The most errors a failed link's message names; the rest are counted and saved.
const ERRORS_SHOWN: usize = 20;

/// The linker's diagnostics as one line: its first errors (up to [`ERRORS_SHOWN`], the first
/// one whole, the others without the repeated `program: error:`), and when it said more, how
/// much and where all of it was saved (a `.log` file in the temp directory that is kept).
pub(super) fn linker_diagnostics(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("error"))
        .collect();
    let shown: Vec<&str> = match errors.split_first() {
        Some((first, rest)) => std::iter::once(*first)
            .chain(
                rest.iter()
                    .take(ERRORS_SHOWN - 1)
                    .map(|l| l.split_once("error: ").map_or(*l, |(_, message)| message)),
            )
            .collect(),
        None => lines.first().copied().into_iter().collect(),
    };
    let summary = match shown.is_empty() {
        true => "no message".to_string(),
        false => shown.join("; "),
    };
    if lines.len() <= shown.len() {
        return summary;
    }
    let counted = format!("{} errors, {} lines of output", errors.len(), lines.len());
    let saved = tempfile::Builder::new()
        .prefix("aotlink-link-")
        .suffix(".log")
        .tempfile()
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, text.as_bytes())?;
            f.keep().map_err(|e| e.error)
        });
    match saved {
        Ok((_, path)) => format!("{summary} ({counted}, all in {})", path.display()),
        Err(_) => format!("{summary} ({counted})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_errors_name_the_first_twenty_and_count_the_rest() {
        let text: String = (0..30)
            .map(|i| format!("ld.lld: error: undefined symbol: f{i:02}\n>>> referenced by x.o\n"))
            .collect();
        let message = linker_diagnostics(&text);
        assert!(message.starts_with("ld.lld: error: undefined symbol: f00; undefined symbol: f01;"));
        assert!(
            message.contains("f19") && !message.contains("f20"),
            "{message}"
        );
        assert!(
            message.contains("(30 errors, 60 lines of output, all in "),
            "{message}"
        );
        assert!(!message.contains('\n'));
        assert_eq!(
            linker_diagnostics("ld.lld: error: one\n"),
            "ld.lld: error: one"
        );
    }
}
