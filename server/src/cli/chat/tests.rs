use super::printer::Printer;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn printed(shared: &Captured) -> String {
    String::from_utf8(shared.0.lock().expect("buffer").clone()).expect("utf-8")
}

#[test]
fn what_actions_print_waits_for_the_end_of_the_models_line() {
    let shared = Captured::default();
    let mut printer = Printer::to(Box::new(shared.clone()));
    printer.prose("Here is the app.\n\nA");
    printer.status("  ✓ file src/second.js");
    printer.raw("npm output\r\n");
    assert_eq!(printed(&shared), "Here is the app.\n\nA");
    printer.prose("ll done.\nAnd");
    printer.prose(" more");
    printer.status("  ✓ file src/third.js");
    assert_eq!(
        printed(&shared),
        "Here is the app.\n\nAll done.\n  ✓ file src/second.js\nnpm output\r\nAnd more"
    );
    // The turn's end lets out what the unfinished last line held back.
    printer.release();
    assert_eq!(
        printed(&shared),
        "Here is the app.\n\nAll done.\n  ✓ file src/second.js\nnpm output\r\nAnd more\n  ✓ file src/third.js\n"
    );
}

#[test]
fn status_lines_go_out_at_once_between_the_models_lines() {
    let shared = Captured::default();
    let mut printer = Printer::to(Box::new(shared.clone()));
    printer.prose("Writing files.\n");
    printer.status("  ✓ file a.js");
    printer.raw("partial output");
    printer.status("  ✓ shell make");
    assert_eq!(
        printed(&shared),
        "Writing files.\n  ✓ file a.js\npartial output\n  ✓ shell make\n"
    );
}

#[test]
fn an_open_question_stays_in_view_until_it_is_answered() {
    let shared = Captured::default();
    let mut printer = Printer::to(Box::new(shared.clone()));
    printer.prose("Installing now.\nThen");
    printer.ask("  ? run shell `npm install`? [y]es, [a]lways this session, [n]o: ");
    printer.prose(" I will start the server.\n");
    printer.status("  ✓ file a.js");
    printer.raw("output\r\n");
    assert_eq!(
        printed(&shared),
        "Installing now.\nThen\n  ? run shell `npm install`? [y]es, [a]lways this session, [n]o: "
    );
    printer.answered();
    assert_eq!(
        printed(&shared),
        "Installing now.\nThen\n  ? run shell `npm install`? [y]es, [a]lways this session, [n]o:  I will start the server.\n  ✓ file a.js\noutput\r\n"
    );
}
