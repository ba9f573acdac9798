//! The bundled example estate (`examples/shop`), loaded the way `doppel load` does: the
//! fixture the analyses are tested on.

use doppel_estate::{SourceFile, parse};
use doppel_model::Twin;

/// The shop estate as a twin.
pub fn shop() -> Twin {
    shop_with(&[])
}

/// The shop estate with each `(file, old, new)` edit made to its files first (the first
/// occurrence of `old` in the file whose path ends with `file`).
pub fn shop_with(edits: &[(&str, &str, &str)]) -> Twin {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop");
    let mut files: Vec<SourceFile> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| SourceFile {
            path: p.display().to_string(),
            text: std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for (file, old, new) in edits {
        let f = files.iter_mut().find(|f| f.path.ends_with(file)).unwrap_or_else(|| panic!("no file {file}"));
        assert!(f.text.contains(old), "{file} does not contain {old:?}");
        f.text = f.text.replacen(old, new, 1);
    }
    let estate =
        parse(&files).unwrap_or_else(|d| panic!("{}", d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")));
    let mut twin = Twin::new();
    let plan = estate.plan(&twin, false);
    twin.apply(&plan.changeset).unwrap_or_else(|e| panic!("{e}"));
    twin
}
