//! The shape of `src/`: arrows point one way.
//!
//! Every file is read whole, less its comments, its string literals and its test-only items
//! (`#[cfg(test)]` modules, inline or in files of their own: tests may build fixtures from any
//! stage). What is left is parsed for paths (`crate::…`, `super::…`, `self::…`, a child module's
//! name, and `use` trees with braces), each resolved to the file that defines it. From that:
//! - no two top-level modules import each other, through any number of steps;
//! - no two files import each other (a module's `mod.rs` and its direct parts aside: the parent
//!   declares and re-exports them, they use what it defines);
//! - no module imports a module declared above its own layer in the fenced block under
//!   `## Import order` in `ARCHITECTURE.md` (a later stage may import an earlier one, never the
//!   reverse);
//! - the binary (`src/main.rs` and its command line under `src/cli/`) stands outside that order:
//!   it reaches the library only through what `lib.rs` makes public (`recon::…`), never a module
//!   of the library, and the library knows nothing of it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// A file's text with comments, string and char literals blanked (newlines kept).
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, s: &[u8]| {
        for &c in s {
            out.push(if c == b'\n' { '\n' } else { ' ' });
        }
    };
    while i < b.len() {
        let rest = &b[i..];
        let end = if rest.starts_with(b"//") {
            rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len())
        } else if rest.starts_with(b"/*") {
            block_comment_len(rest)
        } else if rest[0] == b'"' || is_raw_string_start(b, i) {
            string_len(rest)
        } else if rest[0] == b'\'' {
            char_literal_len(rest)
        } else {
            0
        };
        if end == 0 {
            out.push(char::from(b[i]));
            i += 1;
        } else {
            blank(&mut out, &rest[..end]);
            i += end;
        }
    }
    out
}

fn block_comment_len(s: &[u8]) -> usize {
    let mut depth = 0;
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if s[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    s.len()
}

/// `r"`, `r#"`, `br"` … at `i`, not inside an identifier.
fn is_raw_string_start(b: &[u8], i: usize) -> bool {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    if i > 0 && ident(b[i - 1]) {
        return false;
    }
    let mut j = i;
    if b.get(j) == Some(&b'b') {
        j += 1;
    }
    if b.get(j) != Some(&b'r') {
        return false;
    }
    j += 1;
    while b.get(j) == Some(&b'#') {
        j += 1;
    }
    b.get(j) == Some(&b'"')
}

/// The length of the string literal (plain, byte or raw) at the start of `s`.
fn string_len(s: &[u8]) -> usize {
    let mut i = 0;
    while s[i] != b'"' && s[i] != b'#' {
        i += 1; // `b`, `r`
    }
    let hashes = s[i..].iter().take_while(|&&c| c == b'#').count();
    let raw = hashes > 0 || (i > 0 && s[i - 1] == b'r');
    i += hashes + 1;
    while i < s.len() {
        if !raw && s[i] == b'\\' {
            i += 2;
            continue;
        }
        if s[i] == b'"'
            && s[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == b'#')
                .count()
                == hashes
        {
            return i + 1 + hashes;
        }
        i += 1;
    }
    s.len()
}

/// The length of the char literal at the start of `s` (0 for a lifetime or a label).
fn char_literal_len(s: &[u8]) -> usize {
    if s.get(1) == Some(&b'\\') {
        return s[2..].iter().position(|&c| c == b'\'').map_or(0, |p| p + 3);
    }
    let text = std::str::from_utf8(&s[1..s.len().min(6)])
        .unwrap_or_else(|e| std::str::from_utf8(&s[1..=e.valid_up_to()]).unwrap_or_default());
    match text.chars().next() {
        Some(c) if text[c.len_utf8()..].starts_with('\'') => 1 + c.len_utf8() + 1,
        _ => 0,
    }
}

/// Code with every `#[cfg(test)]` item removed; also the names of test-only child modules
/// declared as `#[cfg(test)] mod name;`.
fn without_tests(code: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut test_children = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at + "#[cfg(test)]".len()..];
        let open = item.find('{');
        let semi = item.find(';');
        // An item that ends at `;` before any `{` (a `mod name;` among them, also the file's
        // last item), or one whose braces close it.
        let end = match (open, semi) {
            (o, Some(s)) if o.is_none_or(|o| s < o) => {
                let decl = item[..s].trim();
                if let Some(name) = decl.rsplit("mod ").next().filter(|_| decl.contains("mod ")) {
                    test_children.push(name.trim().to_owned());
                }
                s + 1
            }
            (Some(o), _) => o + matching_brace(&item[o..]),
            (None, _) => item.len(),
        };
        out.extend(item[..end].chars().filter(|&c| c == '\n'));
        rest = &item[end..];
    }
    out.push_str(rest);
    (out, test_children)
}

/// The length up to and including the brace closing the one `s` starts with.
fn matching_brace(s: &str) -> usize {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    s.len()
}

/// A Rust source file of the crate.
struct SourceFile {
    /// Relative to `src/`, with `/`.
    rel: String,
    /// The module path (`["diff", "keylog"]`; `mod.rs` is its folder's module).
    module: Vec<String>,
    /// Code only, test items removed.
    code: String,
    /// Child modules the file declares (`mod name;`), test-only ones left out.
    children: BTreeSet<String>,
}

impl SourceFile {
    /// The top-level module (`diff` for `src/diff/keylog.rs`).
    fn unit(&self) -> &str {
        &self.module[0]
    }
}

/// The binary's command line: `src/cli/`, a module of `main.rs`, not of the library.
const BINARY: &str = "cli";

/// The library's files of [`files`]: the binary's left out.
fn library_files() -> Vec<SourceFile> {
    files().into_iter().filter(|f| f.unit() != BINARY).collect()
}

/// Every file of `src/` but `lib.rs`, `main.rs` and test-only module files.
fn files() -> Vec<SourceFile> {
    let src = src();
    let mut found = Vec::new();
    let mut test_files = BTreeSet::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            if rel == "lib.rs" || rel == "main.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read file");
            let (code, test_children) = without_tests(&code_only(&text));
            let module = module_of(&rel);
            let folder = if rel.ends_with("mod.rs") {
                module.clone()
            } else {
                module[..module.len() - 1].to_vec()
            };
            for t in &test_children {
                let mut m = folder.clone();
                if !rel.ends_with("mod.rs") {
                    m.push(module[module.len() - 1].clone());
                }
                m.push(t.clone());
                test_files.insert(m);
            }
            let children = declared_children(&code);
            found.push(SourceFile {
                rel,
                module,
                code,
                children,
            });
        }
    }
    found.retain(|f| !test_files.contains(&f.module));
    found.sort_by(|a, b| a.rel.cmp(&b.rel));
    found
}

fn module_of(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn declared_children(code: &str) -> BTreeSet<String> {
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ';'))
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .filter(|w| w[0] == "mod" && w[1].ends_with(';'))
        .map(|w| w[1].trim_end_matches(';').to_owned())
        .collect()
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every path in `code` that starts with `crate`, `super`, `self` or one of `roots`, use trees
/// expanded (`crate::{a, b::c}` gives `crate::a` and `crate::b::c`).
fn paths(code: &str, roots: &BTreeSet<String>) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !is_ident(chars[i]) || (i > 0 && (is_ident(chars[i - 1]) || chars[i - 1] == ':')) {
            i += 1;
            continue;
        }
        let word: String = chars[i..].iter().take_while(|&&c| is_ident(c)).collect();
        let after = i + word.chars().count();
        let starts = matches!(word.as_str(), "crate" | "super" | "self") || roots.contains(&word);
        if starts && chars[after..].starts_with(&[':', ':']) {
            let mut found = Vec::new();
            tree(&chars, i, &mut Vec::new(), &mut found);
            out.extend(found);
        }
        i = after;
    }
    out
}

/// Parses the use tree (or path) at `i` with `prefix` before it; returns where it ends.
fn tree(
    chars: &[char],
    mut i: usize,
    prefix: &mut Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    let depth = prefix.len();
    loop {
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        if chars.get(i) == Some(&'{') {
            i += 1;
            loop {
                i = tree(chars, i, prefix, out);
                while chars.get(i).is_some_and(|c| c.is_whitespace() || *c == ',') {
                    i += 1;
                }
                if chars.get(i) != Some(&'{') && !chars.get(i).is_some_and(|&c| is_ident(c)) {
                    break;
                }
            }
            if chars.get(i) == Some(&'}') {
                i += 1;
            }
            break;
        }
        let word: String = chars[i..].iter().take_while(|&&c| is_ident(c)).collect();
        if word.is_empty() {
            if prefix.len() > depth || chars.get(i) == Some(&'*') {
                out.push(prefix.clone());
            }
            break;
        }
        prefix.push(word.clone());
        i += word.chars().count();
        if chars[i..].starts_with(&[':', ':']) {
            i += 2;
        } else {
            out.push(prefix.clone());
            break;
        }
    }
    prefix.truncate(depth);
    i
}

/// The file a path names: the deepest module file along it (`crate::diff::keylog::KeyLog` is
/// `diff/keylog.rs`), or `None` for a path outside the crate's files.
fn resolve(from: &SourceFile, path: &[String]) -> Option<String> {
    let mut module: Vec<String> = match path.first()?.as_str() {
        "crate" => Vec::new(),
        "super" => from.module[..from.module.len().saturating_sub(1)].to_vec(),
        _ => from.module.clone(), // `self`, or a child module of this file
    };
    let skip = usize::from(matches!(path[0].as_str(), "crate" | "self" | "super"));
    let mut segments = path[skip..].iter().peekable();
    while segments.peek().is_some_and(|s| *s == "super") {
        module.pop();
        segments.next();
    }
    let src = src();
    let mut file = None;
    let mut dir = src.join(module.join("/"));
    if !module.is_empty() {
        file = module_file(&src, &module);
    }
    for s in segments {
        let flat = dir.join(format!("{s}.rs"));
        let nested = dir.join(s).join("mod.rs");
        if flat.is_file() || nested.is_file() {
            module.push(s.clone());
            file = module_file(&src, &module);
            dir = dir.join(s);
        } else {
            break;
        }
    }
    file.filter(|f| *f != from.rel)
}

fn module_file(src: &Path, module: &[String]) -> Option<String> {
    let flat = format!("{}.rs", module.join("/"));
    let nested = format!("{}/mod.rs", module.join("/"));
    [flat, nested].into_iter().find(|f| src.join(f).is_file())
}

/// File -> the files it imports.
fn file_graph(files: &[SourceFile]) -> BTreeMap<String, BTreeSet<String>> {
    files
        .iter()
        .map(|f| {
            let deps = paths(&f.code, &f.children)
                .iter()
                .filter_map(|p| resolve(f, p))
                .collect();
            (f.rel.clone(), deps)
        })
        .collect()
}

/// The top-level module of a file (`diff/keylog.rs` is `diff`).
fn unit_of(rel: &str) -> String {
    module_of(rel)[0].clone()
}

/// Top-level module -> (imported top-level module -> the files whose code imports it).
fn module_graph(files: &[SourceFile]) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let graph = file_graph(files);
    let mut out: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for f in files {
        let deps = out.entry(f.unit().to_owned()).or_default();
        for d in &graph[&f.rel] {
            let u = unit_of(d);
            if u != f.unit() {
                deps.entry(u).or_default().insert(f.rel.clone());
            }
        }
    }
    out
}

/// A cycle through `start`, if there is one.
fn cycle_from<V>(
    graph: &BTreeMap<String, BTreeMap<String, V>>,
    start: &str,
    at: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    for next in graph.get(at).into_iter().flat_map(BTreeMap::keys) {
        if next == start {
            let mut c = path.clone();
            c.push(start.to_owned());
            return Some(c);
        }
        if !path.contains(next) {
            path.push(next.clone());
            if let Some(c) = cycle_from(graph, start, next, path) {
                return Some(c);
            }
            path.pop();
        }
    }
    None
}

/// The layers of the `## Import order` block of ARCHITECTURE.md, top (imports most) first.
fn declared_order() -> Vec<Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md");
    let text = std::fs::read_to_string(&path).expect("ARCHITECTURE.md at the top level");
    let section = text
        .split("\n## Import order")
        .nth(1)
        .expect("an `## Import order` section in ARCHITECTURE.md");
    let block = section
        .split("```")
        .nth(1)
        .expect("a fenced block under `## Import order`");
    block
        .lines()
        .skip(1) // the fence's language tag
        .map(|l| l.split('#').next().unwrap_or_default())
        .map(|l| {
            l.split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn the_parser_sees_use_trees_paths_and_skips_tests_comments_and_strings() {
    let text = r#"
//! crate::doc_comment
use crate::{alpha, beta::{gamma, delta::Thing}};
use super::sibling::Item;
fn f() -> crate::eps::Type { let s = "crate::in_string"; let c = '"'; crate::zeta::call() }
/* crate::in_block_comment */
#[cfg(test)]
mod tests {
    use crate::in_tests;
    fn g() { if true { crate::deeper_test(); } }
}
fn after_tests() { child::go(); let r = r"crate::raw"; }
"#;
    let (code, _) = without_tests(&code_only(text));
    let roots = BTreeSet::from(["child".to_owned()]);
    let found: BTreeSet<String> = paths(&code, &roots).iter().map(|p| p.join("::")).collect();
    let expected: BTreeSet<String> = [
        "crate::alpha",
        "crate::beta::gamma",
        "crate::beta::delta::Thing",
        "super::sibling::Item",
        "crate::eps::Type",
        "crate::zeta::call",
        "child::go",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn no_module_imports_another_in_a_circle() {
    let files = library_files();
    let graph = module_graph(&files);
    assert!(
        graph.get("run").is_some_and(|d| d.contains_key("diff")),
        "the parser lost the imports: {graph:?}"
    );
    let cycles: BTreeSet<String> = graph
        .keys()
        .filter_map(|m| cycle_from(&graph, m, m, &mut vec![m.clone()]))
        .map(|c| {
            let steps: Vec<String> = c
                .windows(2)
                .map(|w| {
                    let by: Vec<&String> = graph[&w[0]][&w[1]].iter().collect();
                    format!("{} -> {} (in {by:?})", w[0], w[1])
                })
                .collect();
            steps.join(", ")
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "import cycles between modules of src/:\n{}",
        cycles.into_iter().collect::<Vec<_>>().join("\n")
    );
}

/// The file of the module that declares the one of `rel` (`diff/mod.rs` for `diff/keylog.rs`).
fn parent_of(rel: &str) -> Option<String> {
    let module = module_of(rel);
    let parent = &module[..module.len() - 1];
    if parent.is_empty() {
        return None;
    }
    module_file(&src(), parent)
}

/// Two files that use each other, a module's `mod.rs` and the files of its own parts aside (a
/// parent declares its parts and re-exports what they define; the parts use what it defines).
#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let graph = file_graph(&files());
    let mut pairs = Vec::new();
    for (a, deps) in &graph {
        for b in deps {
            let family = parent_of(a).as_ref() == Some(b) || parent_of(b).as_ref() == Some(a);
            if a < b && !family && graph.get(b).is_some_and(|d| d.contains(a)) {
                pairs.push(format!("{a} <-> {b}"));
            }
        }
    }
    assert!(
        pairs.is_empty(),
        "files importing each other:\n{}",
        pairs.join("\n")
    );
}

#[test]
fn no_module_imports_a_later_stage() {
    let layers = declared_order();
    let layer_of: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, l)| l.iter().map(move |m| (m.as_str(), i)))
        .collect();
    let files = library_files();
    let graph = module_graph(&files);
    let unlisted: Vec<&String> = graph
        .keys()
        .filter(|m| !layer_of.contains_key(m.as_str()))
        .collect();
    let stale: Vec<&&str> = layer_of
        .keys()
        .filter(|m| !graph.contains_key(**m))
        .collect();
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "ARCHITECTURE.md's import order must list every module of src/ once: not listed {unlisted:?}, \
         not in src/ {stale:?}"
    );
    let mut wrong = Vec::new();
    for (module, deps) in &graph {
        for (dep, by) in deps {
            if layer_of[dep.as_str()] < layer_of[module.as_str()] {
                for file in by {
                    wrong.push(format!(
                        "src/{file} ({module}) imports {dep}, a later stage"
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the order of ARCHITECTURE.md:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_file_holds_more_than_500_lines_of_code() {
    let big: Vec<String> = files()
        .iter()
        .filter_map(|f| {
            let lines = f.code.lines().filter(|l| !l.trim().is_empty()).count();
            (lines > 500).then(|| format!("src/{} ({lines})", f.rel))
        })
        .collect();
    assert!(big.is_empty(), "split these files: {}", big.join(", "));
}

/// The names `lib.rs` makes public at the crate root: `pub mod`, `pub use` (the last segment, or
/// the `as` name), and other `pub` items; items inside its inline modules left out.
fn public_names(lib: &str) -> BTreeSet<String> {
    let mut top = String::new();
    let mut depth = 0usize;
    for c in lib.chars() {
        match c {
            '{' if depth > 0 || !top.trim_end().ends_with("::") => {
                depth += 1;
                if depth == 1 {
                    top.push(';');
                }
            }
            '}' if depth > 0 => depth -= 1,
            _ if depth == 0 => top.push(c),
            _ => {}
        }
    }
    let mut names = BTreeSet::new();
    for statement in top.split(';') {
        let words: Vec<&str> = statement.split_whitespace().collect();
        let Some(at) = words.iter().position(|w| *w == "pub") else {
            continue;
        };
        match words.get(at + 1).copied() {
            Some("use") => {
                let tree_text = words[at + 2..].join(" ");
                if let Some((_, alias)) = tree_text.rsplit_once(" as ") {
                    names.insert(alias.trim().to_owned());
                    continue;
                }
                let chars: Vec<char> = tree_text.chars().collect();
                let mut found = Vec::new();
                tree(&chars, 0, &mut Vec::new(), &mut found);
                names.extend(found.iter().filter_map(|p| p.last().cloned()));
            }
            Some(_) => {
                if let Some(name) = words.get(at + 2) {
                    let name: String = name.chars().take_while(|&c| is_ident(c)).collect();
                    names.insert(name);
                }
            }
            None => {}
        }
    }
    names
}

#[test]
fn the_binary_uses_only_the_librarys_public_api() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("lib.rs");
    let (lib, _) = without_tests(&code_only(&lib));
    assert!(
        !declared_children(&lib).contains(BINARY),
        "lib.rs declares `mod {BINARY}`: the command line is the binary's"
    );
    let public = public_names(&lib);
    for name in [
        "Reconciler",
        "config",
        "report",
        "exporter",
        "scrub_credentials",
    ] {
        assert!(
            public.contains(name),
            "the parser lost `{name}`: {public:?}"
        );
    }
    let main = std::fs::read_to_string(src().join("main.rs")).expect("main.rs");
    let (main, _) = without_tests(&code_only(&main));
    let mut binary: Vec<(String, String)> = vec![("main.rs".to_owned(), main)];
    binary.extend(
        files()
            .into_iter()
            .filter(|f| f.unit() == BINARY)
            .map(|f| (f.rel, f.code)),
    );
    let roots = BTreeSet::from(["recon".to_owned()]);
    let mut wrong = Vec::new();
    let mut through_api = 0;
    for (rel, code) in &binary {
        for p in paths(code, &roots) {
            let next = p.get(1).map_or("", String::as_str);
            match p[0].as_str() {
                "crate" if next != BINARY => wrong.push(format!(
                    "src/{rel}: `{}` reaches into the library",
                    p.join("::")
                )),
                "recon" if !public.contains(next) => wrong.push(format!(
                    "src/{rel}: `{}` is not public in lib.rs",
                    p.join("::")
                )),
                "recon" if next == "bench_api" && rel != "cli/floor.rs" => wrong.push(format!(
                    "src/{rel}: `bench_api` is for the benchmarks and `decode-floor` only"
                )),
                "recon" => through_api += 1,
                _ => {}
            }
        }
    }
    assert!(
        through_api > 20,
        "the parser lost the binary's `recon::` paths"
    );
    assert!(
        wrong.is_empty(),
        "the binary goes around the library's API:\n{}",
        wrong.join("\n")
    );
}
