// A context that is not `Send`/`Sync` (an `Rc`): the context is handed to jobs that run
// on other threads.
use std::rc::Rc;

use current::job::Job;
use current::primitive;

#[primitive]
async fn build(_job: &Job, #[context] tools: &Rc<String>, commit: String) -> Result<String, String> {
    Ok(format!("{tools}:{commit}"))
}

fn main() {}
