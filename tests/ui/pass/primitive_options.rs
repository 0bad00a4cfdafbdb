// Every option of #[primitive]: id, level, auto_cancel, version, valid_for, pool, timeout,
// latched and publish, alone and together.
use std::sync::LazyLock;

use current::job::Job;
use current::pool::Pool;
use current::primitive;
use current::term::Term;

static BUILDERS: LazyLock<Pool> = LazyLock::new(|| Pool::new("builders", 2));

fn builders() -> Pool {
    BUILDERS.clone()
}

#[primitive(id = "ui.with_id")]
async fn with_id(_job: &Job, x: u32) -> Result<u32, String> {
    Ok(x)
}

#[primitive(level = Harmless)]
async fn harmless(_job: &Job, x: u32) -> Result<u32, String> {
    Ok(x)
}

#[primitive(level = MostlyHarmless)]
async fn mostly_harmless(_job: &Job, x: u32) -> Result<u32, String> {
    Ok(x)
}

#[primitive(level = Average)]
async fn average(_job: &Job, x: u32) -> Result<u32, String> {
    Ok(x)
}

#[primitive(level = AboveAverage)]
async fn above_average(_job: &Job, x: u32) -> Result<u32, String> {
    Ok(x)
}

#[primitive(level = Dangerous)]
async fn dangerous(_job: &Job, x: u32) -> Result<u32, String> {
    Ok(x)
}

#[primitive(auto_cancel)]
async fn cancelled(_job: &Job, x: u32) -> Result<u32, String> {
    Ok(x)
}

#[primitive(auto_cancel = false)]
async fn not_cancelled(_job: &Job, x: u32) -> Result<u32, String> {
    Ok(x)
}

#[primitive(version = 7)]
async fn versioned(_job: &Job, x: u32) -> Result<u32, String> {
    Ok(x)
}

#[primitive(valid_for = "1h30m")]
async fn fresh(_job: &Job, x: u32) -> Result<u32, String> {
    Ok(x)
}

#[primitive(pool = builders())]
async fn pooled(_job: &Job, x: u32) -> Result<u32, String> {
    Ok(x)
}

#[primitive(pool = BUILDERS.clone())]
async fn pooled_static(_job: &Job, x: u32) -> Result<u32, String> {
    Ok(x)
}

#[primitive(timeout = "90s")]
async fn bounded(_job: &Job, x: u32) -> Result<u32, String> {
    Ok(x)
}

#[primitive(latched)]
async fn latched(_job: &Job, x: u32) -> Result<u32, String> {
    Ok(x)
}

#[primitive(latched = true)]
async fn latched_explicitly(_job: &Job, x: u32) -> Result<u32, String> {
    Ok(x)
}

/// A publish step: the last parameter is the value, the others the key.
#[primitive(publish)]
async fn push(_job: &Job, registry: String, tag: String, image: u32) -> Result<String, String> {
    Ok(format!("{registry}/{tag}:{image}"))
}

/// A publish step with only a value.
#[primitive(publish)]
async fn announce(_job: &Job, message: String) -> Result<(), String> {
    let _ = message;
    Ok(())
}

#[primitive(
    id = "ui.everything",
    level = Dangerous,
    auto_cancel,
    version = 2,
    valid_for = "2d",
    pool = builders(),
    timeout = "10m",
    latched,
    publish,
)]
async fn everything(_job: &Job, target: String, image: u32) -> Result<u32, String> {
    Ok(target.len() as u32 + image)
}

fn pipeline() -> Term<u32> {
    let x = Term::value(1u32);
    let steps = [
        with_id(&x),
        harmless(&x),
        mostly_harmless(&x),
        average(&x),
        above_average(&x),
        dangerous(&x),
        cancelled(&x),
        not_cancelled(&x),
        versioned(&x),
        fresh(&x),
        pooled(&x),
        pooled_static(&x),
        bounded(&x),
        latched(&x),
        latched_explicitly(&x),
    ];
    let tag = Term::value("v1".to_string());
    let _: Term<String> = push(&Term::value("registry".to_string()), &tag, &steps[0]);
    let _: Term<()> = announce(&tag);
    everything(&tag, &steps[1])
}

fn main() {
    let _ = pipeline();
}
