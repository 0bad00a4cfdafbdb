//! Tests of `describe`: the short renderings of keys shown in diagram labels.

use std::cell::Cell;
use std::collections::BTreeMap;

use current::describe::{describe, MAX_CHARS};
use serde::ser::{Error as _, SerializeSeq as _};
use serde::{Serialize, Serializer};

#[derive(Serialize)]
struct Commit {
    repo: &'static str,
    hash: &'static str,
}

fn commit() -> Commit {
    Commit {
        repo: "/src/x",
        hash: "abc123",
    }
}

#[derive(Serialize)]
struct Marker;

#[derive(Serialize)]
struct Meters(u32);

#[derive(Serialize)]
struct Pair(u32, &'static str);

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
enum Shape {
    Dot,
    Circle(u32),
    Rect(u32, u32),
    Square { side: u32 },
    Nothing {},
    Wrap(Commit),
}

#[derive(Serialize)]
struct Skipping {
    shown: u32,
    #[serde(skip)]
    #[allow(dead_code)]
    hidden: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    maybe: Option<u32>,
}

#[derive(Serialize)]
struct AllSkipped {
    #[serde(skip)]
    #[allow(dead_code)]
    hidden: u32,
}

/// A byte string, serialized with `serialize_bytes`.
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

/// A value whose `Serialize` impl fails.
struct Failing;

impl Serialize for Failing {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(S::Error::custom("boom"))
    }
}

/// A sequence of `len` numbers that counts how many it was asked for.
struct Counting<'a> {
    len: u64,
    serialized: &'a Cell<u64>,
}

impl Serialize for Counting<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for i in 0..self.len {
            self.serialized.set(self.serialized.get() + 1);
            seq.serialize_element(&i)?;
        }
        seq.end()
    }
}

#[test]
fn scalars_use_display() {
    assert_eq!(describe(&true), "true");
    assert_eq!(describe(&false), "false");
    assert_eq!(describe(&-3i8), "-3");
    assert_eq!(describe(&42u16), "42");
    assert_eq!(describe(&7i64), "7");
    assert_eq!(
        describe(&u128::MAX),
        "340282366920938463463374607431768211455"
    );
    assert_eq!(
        describe(&i128::MIN),
        "-170141183460469231731687303715884105728"
    );
    assert_eq!(describe(&1.5f64), "1.5");
    assert_eq!(describe(&2.0f32), "2");
    assert_eq!(describe(&0.1f32), "0.1");
    assert_eq!(describe(&-0.0f64), "-0");
    assert_eq!(describe(&f64::NAN), "NaN");
    assert_eq!(describe(&f64::NEG_INFINITY), "-inf");
}

#[test]
fn plain_chars_and_strings_are_bare() {
    assert_eq!(describe(&'a'), "a");
    assert_eq!(describe(&'é'), "é");
    assert_eq!(describe(&':'), ":");
    assert_eq!(describe("main"), "main");
    assert_eq!(describe(&String::from("abc123")), "abc123");
    assert_eq!(describe("/src/x:1"), "/src/x:1");
    assert_eq!(describe("it's"), "it's");
    assert_eq!(describe("naïve-日本"), "naïve-日本");
    assert_eq!(describe("…"), "…");
}

#[test]
fn ambiguous_strings_are_quoted() {
    assert_eq!(describe(""), r#""""#);
    assert_eq!(describe("a b"), r#""a b""#);
    assert_eq!(describe("a,b"), r#""a,b""#);
    assert_eq!(describe("f(x)"), r#""f(x)""#);
    assert_eq!(describe("x)"), r#""x)""#);
    assert_eq!(describe("[x"), r#""[x""#);
    assert_eq!(describe("x]"), r#""x]""#);
    assert_eq!(describe("{x"), r#""{x""#);
    assert_eq!(describe("x}"), r#""x}""#);
    assert_eq!(describe("a=b"), r#""a=b""#);
    assert_eq!(describe(r#"say"hi"#), r#""say\"hi""#);
    assert_eq!(describe("tab\there"), r#""tab\there""#);
    assert_eq!(describe("line\n"), r#""line\n""#);
    assert_eq!(describe("bell\u{7}"), r#""bell\u{7}""#);
    assert_eq!(describe("nb\u{a0}sp"), r#""nb\u{a0}sp""#);
}

#[test]
fn ambiguous_chars_are_quoted_as_chars() {
    assert_eq!(describe(&' '), "' '");
    assert_eq!(describe(&','), "','");
    assert_eq!(describe(&'('), "'('");
    assert_eq!(describe(&'}'), "'}'");
    assert_eq!(describe(&'='), "'='");
    assert_eq!(describe(&'"'), r#"'"'"#);
    assert_eq!(describe(&'\n'), r"'\n'");
    assert_eq!(describe(&'\0'), r"'\0'");
}

#[test]
fn bytes_are_hex_cut_after_16() {
    assert_eq!(describe(&Bytes(vec![])), "");
    assert_eq!(describe(&Bytes(vec![0x00, 0xab, 0x10, 0xff])), "00ab10ff");
    assert_eq!(
        describe(&Bytes((0..16).collect())),
        "000102030405060708090a0b0c0d0e0f"
    );
    assert_eq!(
        describe(&Bytes((0..17).collect())),
        "000102030405060708090a0b0c0d0e0f…"
    );
    assert_eq!(
        describe(&Bytes(vec![0xee; 1_000_000])),
        format!("{}…", "ee".repeat(16))
    );
    assert_eq!(describe(&vec![Bytes(vec![1, 2])]), "[0102]");
}

#[test]
fn units_show_their_names() {
    assert_eq!(describe(&()), "()");
    assert_eq!(describe(&Marker), "Marker");
    assert_eq!(describe(&Shape::Dot), "Dot");
    assert_eq!(describe(&vec![Shape::Dot, Shape::Dot]), "[Dot, Dot]");
    assert_eq!(describe(&((), Marker)), "() Marker");
}

#[test]
fn options_are_none_or_their_value() {
    assert_eq!(describe(&None::<u32>), "none");
    assert_eq!(describe(&Some(3)), "3");
    assert_eq!(describe(&Some("a b")), r#""a b""#);
    assert_eq!(describe(&Some(Some(1))), "1");
    assert_eq!(describe(&vec![Some(1), None]), "[1, none]");
}

#[test]
fn newtypes() {
    assert_eq!(describe(&Meters(5)), "5");
    assert_eq!(describe(&vec![Meters(5)]), "[5]");
    assert_eq!(describe(&Shape::Circle(2)), "Circle(2)");
    assert_eq!(describe(&vec![Shape::Circle(2)]), "[Circle(2)]");
    // The inner value of a newtype variant is nested.
    assert_eq!(
        describe(&Shape::Wrap(commit())),
        "Wrap({repo: /src/x, hash: abc123})"
    );
}

#[test]
fn top_level_tuples_are_joined_by_spaces() {
    assert_eq!(describe(&("main", "abc123")), "main abc123");
    assert_eq!(describe(&(1, "a b", true)), r#"1 "a b" true"#);
    assert_eq!(describe(&("main",)), "main");
    assert_eq!(describe(&((1, 2), 3)), "(1, 2) 3");
    assert_eq!(describe(&[1u8, 2, 3]), "1 2 3");
    assert_eq!(describe(&[0u8; 0]), "()");
    assert_eq!(describe(&Pair(1, "x")), "1 x");
}

#[test]
fn nested_tuples_keep_their_parentheses() {
    assert_eq!(describe(&vec![(1, 2)]), "[(1, 2)]");
    assert_eq!(describe(&vec![("a", (1, "b c"))]), r#"[(a, (1, "b c"))]"#);
    assert_eq!(describe(&vec![Pair(1, "x")]), "[Pair(1, x)]");
    assert_eq!(describe(&vec![[0u8; 0]]), "[()]");
    // A tuple variant looks the same at any level.
    assert_eq!(describe(&Shape::Rect(1, 2)), "Rect(1, 2)");
    assert_eq!(describe(&(Shape::Rect(1, 2),)), "Rect(1, 2)");
    assert_eq!(describe(&vec![Shape::Rect(1, 2)]), "[Rect(1, 2)]");
}

#[test]
fn sequences() {
    assert_eq!(describe(&vec![1, 2, 3]), "[1, 2, 3]");
    assert_eq!(describe(&Vec::<u32>::new()), "[]");
    assert_eq!(describe(&vec![vec![1], vec![]]), "[[1], []]");
    assert_eq!(describe(&["a", "b c"][..]), r#"[a, "b c"]"#);
    assert_eq!(describe(&(vec!["x"], 2)), "[x] 2");
}

#[test]
fn maps_in_serde_order() {
    let map: BTreeMap<&str, u32> = [("b", 2), ("a", 1), ("c d", 3)].into_iter().collect();
    assert_eq!(describe(&map), r#"{a: 1, b: 2, "c d": 3}"#);
    assert_eq!(describe(&BTreeMap::<u32, u32>::new()), "{}");
    let nested: BTreeMap<u32, Vec<&str>> = [(1, vec!["x"]), (2, vec![])].into_iter().collect();
    assert_eq!(describe(&vec![nested]), "[{1: [x], 2: []}]");
}

#[test]
fn structs_lose_their_braces_at_the_top_level_only() {
    assert_eq!(describe(&commit()), "repo: /src/x, hash: abc123");
    assert_eq!(describe(&vec![commit()]), "[{repo: /src/x, hash: abc123}]");
    assert_eq!(describe(&Some(commit())), "repo: /src/x, hash: abc123");
    assert_eq!(describe(&Empty {}), "{}");
    assert_eq!(describe(&vec![Empty {}]), "[{}]");
}

#[test]
fn struct_variants() {
    assert_eq!(describe(&Shape::Square { side: 3 }), "Square {side: 3}");
    assert_eq!(
        describe(&vec![Shape::Square { side: 3 }]),
        "[Square {side: 3}]"
    );
    assert_eq!(describe(&Shape::Nothing {}), "Nothing {}");
}

#[test]
fn skipped_fields_do_not_appear() {
    let shown = Skipping {
        shown: 1,
        hidden: 2,
        maybe: None,
    };
    assert_eq!(describe(&shown), "shown: 1");
    let with_maybe = Skipping {
        shown: 1,
        hidden: 2,
        maybe: Some(3),
    };
    assert_eq!(describe(&with_maybe), "shown: 1, maybe: 3");
    assert_eq!(describe(&vec![shown]), "[{shown: 1}]");
    assert_eq!(describe(&AllSkipped { hidden: 1 }), "{}");
    assert_eq!(describe(&(AllSkipped { hidden: 1 },)), "{}");
}

#[test]
fn a_top_level_tuple_of_a_string_and_a_struct() {
    assert_eq!(
        describe(&("main", commit())),
        "main {repo: /src/x, hash: abc123}"
    );
    // Newtype structs and `Some` are transparent, even around the top-level tuple.
    assert_eq!(
        describe(&Some(("main", commit()))),
        "main {repo: /src/x, hash: abc123}"
    );
    #[derive(Serialize)]
    struct Key((&'static str, Commit));
    assert_eq!(
        describe(&Key(("main", commit()))),
        "main {repo: /src/x, hash: abc123}"
    );
}

#[test]
fn nested_structures() {
    #[derive(Serialize)]
    struct Job {
        sources: Vec<Commit>,
        env: BTreeMap<&'static str, &'static str>,
        shape: Shape,
        limit: Option<u32>,
    }
    let job = Job {
        sources: vec![commit()],
        env: [("CC", "gcc -O2")].into_iter().collect(),
        shape: Shape::Rect(1, 2),
        limit: None,
    };
    assert_eq!(
        describe(&job),
        r#"sources: [{repo: /src/x, hash: abc123}], env: {CC: "gcc -O2"}, shape: Rect(1, 2), limit: none"#
    );
    let small = (
        Shape::Circle(1),
        vec![Some(Meters(2)), None],
        Shape::Square { side: 4 },
        vec![(Marker, Shape::Wrap(commit()))],
    );
    assert_eq!(
        describe(&small),
        "Circle(1) [2, none] Square {side: 4} [(Marker, Wrap({repo: /src/x, hash: abc123}))]"
    );
}

#[test]
fn the_cap_counts_chars() {
    assert_eq!(MAX_CHARS, 100);
    let exact = "x".repeat(100);
    assert_eq!(describe(&exact), exact);
    assert_eq!(describe(&"x".repeat(101)), format!("{}…", "x".repeat(99)));

    // Two-byte and three-byte chars: the cap is in chars, and no char is split.
    let exact = "é".repeat(100);
    assert_eq!(describe(&exact), exact);
    let long = "é".repeat(101);
    let described = describe(&long);
    assert_eq!(described, format!("{}…", "é".repeat(99)));
    assert_eq!(described.chars().count(), 100);
    let mixed = "a€".repeat(80);
    let described = describe(&mixed);
    assert_eq!(described, format!("{}a…", "a€".repeat(49)));
    assert_eq!(described.chars().count(), 100);

    // A quoted string is cut inside its quotes.
    let spaced = "a b".repeat(50);
    assert_eq!(describe(&spaced), format!("\"{}…", &"a b".repeat(33)[..98]));

    // The cap applies to the whole rendering.
    let many: Vec<u32> = (0..100).collect();
    let described = describe(&many);
    assert!(described.starts_with("[0, 1, 2, 3, "), "{described}");
    assert!(described.ends_with('…'), "{described}");
    assert_eq!(described.chars().count(), 100);
    assert_eq!(
        describe(&("main", "x".repeat(95))),
        format!("main {}", "x".repeat(95))
    );
    assert_eq!(
        describe(&("main", "x".repeat(96))),
        format!("main {}…", "x".repeat(94))
    );
}

#[test]
fn a_huge_value_is_not_serialized_in_full() {
    let serialized = Cell::new(0);
    let huge = Counting {
        len: 10_000_000,
        serialized: &serialized,
    };
    let described = describe(&huge);
    assert_eq!(described.chars().count(), 100);
    assert!(described.ends_with('…'), "{described}");
    assert!(serialized.get() < 100, "{} elements", serialized.get());

    let described = describe(&"x y".repeat(1_000_000));
    assert_eq!(described.chars().count(), 100);
}

#[test]
fn a_failing_serialize_ends_the_text_so_far_with_an_ellipsis() {
    assert_eq!(describe(&Failing), "…");
    assert_eq!(describe(&(1, Failing, 2)), "1 …");
    assert_eq!(describe(&vec![Some(Failing)]), "[…");

    #[derive(Serialize)]
    struct Outer {
        a: u32,
        b: Failing,
        c: u32,
    }
    assert_eq!(
        describe(&Outer {
            a: 1,
            b: Failing,
            c: 2
        }),
        "a: 1, b: …"
    );
    assert_eq!(
        describe(&vec![Outer {
            a: 1,
            b: Failing,
            c: 2
        }]),
        "[{a: 1, b: …"
    );

    // Still within the cap when the text so far fills it.
    assert_eq!(
        describe(&("x".repeat(98), Failing)),
        format!("{} …", "x".repeat(98))
    );
    assert_eq!(
        describe(&("x".repeat(99), Failing)),
        format!("{}…", "x".repeat(99))
    );
    assert_eq!(
        describe(&("x".repeat(200), Failing)),
        format!("{}…", "x".repeat(99))
    );
}
