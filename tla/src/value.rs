//! TLA+ values as TLC prints them, read back into the JSON encoding of [`crate::spec`]
//! (records as objects, `NONE` as `null`, `{"$set": [...]}`, `{"$fn": [[key, value], ...]}`),
//! so that a TLC counterexample can be compared with the Rust core's state.
//!
//! TLC prints records `[a |-> 1]`, functions `(k :> v @@ ...)`, sets `{...}` and ranges
//! `1..2`, sequences `<<...>>` (a function on `1..n`; `<< >>` is any empty function), strings,
//! integers, `TRUE`/`FALSE` and model values (read as strings: `n1` is the node `"n1"`).

use serde_json::{json, Map, Value as Json};

/// A state as TLC prints it (`/\ var = value` conjuncts), as one record of its variables.
pub fn parse_state(text: &str) -> Result<Json, String> {
    let mut p = Parser::new(text);
    let mut vars = Map::new();
    while !p.at_end() {
        p.expect("/\\")?;
        let name = p.ident()?;
        p.expect("=")?;
        let value = p.value()?;
        vars.insert(name, value);
    }
    Ok(Json::Object(vars))
}

/// One value as TLC prints it (or as a configuration gives a constant).
pub fn parse_value(text: &str) -> Result<Json, String> {
    let mut p = Parser::new(text);
    let v = p.value()?;
    if !p.at_end() {
        return Err(p.error("the end of the value"));
    }
    Ok(v)
}

/// The same value with sets and functions in one order, so that equal TLA+ values are equal
/// JSON: set elements sorted and deduplicated, function pairs sorted by key.
pub fn canonical(v: &Json) -> Json {
    match v {
        Json::Object(m) => {
            if let Some(Json::Array(items)) = m.get("$set").filter(|_| m.len() == 1) {
                let mut items: Vec<Json> = items.iter().map(canonical).collect();
                items.sort_by_key(|x| x.to_string());
                items.dedup();
                return json!({ "$set": items });
            }
            if let Some(Json::Array(pairs)) = m.get("$fn").filter(|_| m.len() == 1) {
                let mut pairs: Vec<Json> = pairs.iter().map(canonical).collect();
                pairs.sort_by_key(|p| p.get(0).map(|k| k.to_string()).unwrap_or_default());
                return json!({ "$fn": pairs });
            }
            Json::Object(m.iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        Json::Array(items) => Json::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser { text, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn at_end(&mut self) -> bool {
        self.skip_space();
        self.rest().is_empty()
    }

    fn error(&self, wanted: &str) -> String {
        let line = self.text[..self.pos].lines().count().max(1);
        let near: String = self.rest().chars().take(30).collect();
        format!("TLC value, line {line}: expected {wanted}, found {near:?}")
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str) -> Result<(), String> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.error(&format!("`{token}`")))
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        self.skip_space();
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(self.error("a name"));
        }
        self.pos += len;
        Ok(rest[..len].to_string())
    }

    fn value(&mut self) -> Result<Json, String> {
        self.skip_space();
        let rest = self.rest();
        if self.eat("<<") {
            let items = self.list(">>")?;
            let pairs = items
                .into_iter()
                .enumerate()
                .map(|(k, v)| json!([k + 1, v]));
            return Ok(json!({ "$fn": pairs.collect::<Vec<_>>() }));
        }
        if self.eat("[") {
            return self.record();
        }
        if self.eat("{") {
            return Ok(json!({ "$set": self.list("}")? }));
        }
        if self.eat("(") {
            return self.function();
        }
        if rest.starts_with('"') {
            return self.string();
        }
        if rest.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            let low = self.integer()?;
            if self.eat("..") {
                let high = self.integer()?;
                return Ok(json!({ "$set": (low..=high).collect::<Vec<_>>() }));
            }
            return Ok(json!(low));
        }
        let name = self.ident()?;
        Ok(match name.as_str() {
            "TRUE" => Json::Bool(true),
            "FALSE" => Json::Bool(false),
            "NONE" => Json::Null,
            _ => Json::String(name),
        })
    }

    /// Values separated by commas up to `close` (already past the opening bracket).
    fn list(&mut self, close: &str) -> Result<Vec<Json>, String> {
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(self.value()?);
            if self.eat(close) {
                return Ok(items);
            }
            self.expect(",")?;
        }
    }

    fn record(&mut self) -> Result<Json, String> {
        let mut fields = Map::new();
        loop {
            let name = self.ident()?;
            self.expect("|->")?;
            let v = self.value()?;
            fields.insert(name, v);
            if self.eat("]") {
                return Ok(Json::Object(fields));
            }
            self.expect(",")?;
        }
    }

    /// `(k :> v @@ k :> v)`, or a parenthesised value.
    fn function(&mut self) -> Result<Json, String> {
        let first = self.value()?;
        if self.eat(")") {
            return Ok(first);
        }
        let mut pairs = Vec::new();
        let mut key = first;
        loop {
            self.expect(":>")?;
            let v = self.value()?;
            pairs.push(json!([key, v]));
            if self.eat(")") {
                return Ok(json!({ "$fn": pairs }));
            }
            self.expect("@@")?;
            key = self.value()?;
        }
    }

    fn string(&mut self) -> Result<Json, String> {
        self.skip_space();
        let mut out = String::new();
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(Json::String(out));
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, other)) => out.push(other),
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err(self.error("a closing quote"))
    }

    fn integer(&mut self) -> Result<i64, String> {
        self.skip_space();
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
            .map_or(rest.len(), |(i, _)| i);
        let n = rest[..len].parse().map_err(|_| self.error("an integer"))?;
        self.pos += len;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_tlc_prints() {
        let v = parse_value(
            "[ rev |-> 6, mem |-> (n1 :> [l |-> 1, c |-> 2] @@ n2 :> NONE), res |-> {r1}, \
             leases |-> 1..2, wire |-> << >>, s |-> \"a \\\"b\\\"\", ok |-> TRUE ]",
        )
        .unwrap();
        assert_eq!(v["rev"], 6);
        assert_eq!(
            v["mem"],
            json!({"$fn": [["n1", {"l": 1, "c": 2}], ["n2", null]]})
        );
        assert_eq!(v["res"], json!({"$set": ["r1"]}));
        assert_eq!(v["leases"], json!({"$set": [1, 2]}));
        assert_eq!(v["wire"], json!({"$fn": []}));
        assert_eq!(v["s"], "a \"b\"");
        assert_eq!(v["ok"], true);
    }

    #[test]
    fn a_bag_keyed_by_records_and_a_sequence() {
        let v = parse_value("([n |-> n1, op |-> [k |-> \"grant\"]] :> 2)").unwrap();
        assert_eq!(v, json!({"$fn": [[{"n": "n1", "op": {"k": "grant"}}, 2]]}));
        let s = parse_value("<<3, -1>>").unwrap();
        assert_eq!(s, json!({"$fn": [[1, 3], [2, -1]]}));
    }

    #[test]
    fn states_are_records_of_their_variables() {
        let s = parse_state("/\\ up = (n1 :> TRUE)\n/\\ lapsed = {}\n").unwrap();
        assert_eq!(s["up"], json!({"$fn": [["n1", true]]}));
        assert_eq!(s["lapsed"], json!({"$set": []}));
    }

    #[test]
    fn canonical_forms_ignore_order() {
        let a = canonical(&json!({"$set": ["r2", "r1", "r1"]}));
        let b = canonical(&json!({"$set": ["r1", "r2"]}));
        assert_eq!(a, b);
        let f = canonical(&json!({"$fn": [["n2", 1], ["n1", 2]]}));
        assert_eq!(f, json!({"$fn": [["n1", 2], ["n2", 1]]}));
    }

    #[test]
    fn bad_text_is_an_error_not_a_panic() {
        for bad in [
            "[a |-> ",
            "(n1 :> 1 @@",
            "{1, 2",
            "\"open",
            "/\\ x =",
            "[1 |-> 2]",
            "@",
        ] {
            let r = if bad.starts_with("/\\") {
                parse_state(bad)
            } else {
                parse_value(bad)
            };
            assert!(r.is_err(), "{bad:?} parsed");
        }
    }
}
