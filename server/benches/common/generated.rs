//! The generated repository the project and search benches share: 2,000 source files (by default) of
//! JavaScript, TypeScript, Python and Rust whose functions call each other's, deterministic.

// Each bench uses what it needs of it.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::Path;

/// A small deterministic generator.
pub(crate) struct Random(pub(crate) u64);

impl Random {
    pub(crate) fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

const FUNCTIONS_PER_FILE: usize = 40;

/// The source of file `index` of `count`: functions that call functions of other files.
pub(crate) fn source(index: usize, count: usize, random: &mut Random) -> (String, String) {
    let callee = |random: &mut Random| {
        let file = random.next(count);
        let function = random.next(FUNCTIONS_PER_FILE);
        format!("fn_{file}_{function}")
    };
    let mut text = String::new();
    let extension = ["js", "ts", "py", "rs"][index % 4];
    for function in 0..FUNCTIONS_PER_FILE {
        let name = format!("fn_{index}_{function}");
        let calls: Vec<String> = (0..4).map(|_| callee(random)).collect();
        let body_padding = "x".repeat(random.next(250) + 200);
        match extension {
            "js" => {
                let _ = write!(
                    text,
                    "/** {body_padding} */\nexport function {name}(input) {{\n  const a = {}(input);\n  const b = {}(a);\n  const c = {}(b);\n  return {}(c) + a + b;\n}}\n\n",
                    calls[0], calls[1], calls[2], calls[3]
                );
            }
            "ts" => {
                let _ = write!(
                    text,
                    "// {body_padding}\nexport function {name}(input: number): number {{\n  const a = {}(input);\n  const b = {}(a);\n  const c = {}(b);\n  return {}(c) + a + b;\n}}\n\n",
                    calls[0], calls[1], calls[2], calls[3]
                );
            }
            "py" => {
                let _ = write!(
                    text,
                    "def {name}(value):\n    \"\"\"{body_padding}\"\"\"\n    a = {}(value)\n    b = {}(a)\n    c = {}(b)\n    return {}(c) + a + b\n\n\n",
                    calls[0], calls[1], calls[2], calls[3]
                );
            }
            _ => {
                let _ = write!(
                    text,
                    "/// {body_padding}\npub fn {name}(value: u64) -> u64 {{\n    let a = {}(value);\n    let b = {}(a);\n    let c = {}(b);\n    {}(c) + a + b\n}}\n\n",
                    calls[0], calls[1], calls[2], calls[3]
                );
            }
        }
    }
    (
        format!("src/m{:02}/file{index:04}.{extension}", index % 50),
        text,
    )
}

/// Writes `count` files under `root`; their total size in bytes.
pub(crate) fn generate(root: &Path, count: usize) -> u64 {
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut total = 0u64;
    for index in 0..count {
        let (name, text) = source(index, count, &mut random);
        let path = root.join(&name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &text).expect("write");
        total += text.len() as u64;
    }
    total
}
