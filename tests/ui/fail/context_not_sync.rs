// A context that is `Send` but not `Sync` (a `Cell`).
use std::cell::Cell;

use current::job::Job;
use current::primitive;

#[primitive]
async fn build(_job: &Job, #[context] count: Cell<u32>, commit: String) -> Result<String, String> {
    Ok(format!("{}:{commit}", count.get()))
}

fn main() {}
