//! Finds negative numbers anywhere in a serialisable value, with their field paths,
//! without building an intermediate document: a serde serializer that only looks.

use serde::ser::{self, Serialize};
use std::fmt;

/// Every field path (`template.requests.cpu`, `endpoints.0.rate_rps`) holding a negative number.
pub fn negative_fields(value: &impl Serialize) -> Vec<(String, f64)> {
    let mut finder = Finder { path: Vec::new(), found: Vec::new() };
    // The finder never fails; an error could only come from a type's own Serialize.
    let _ = value.serialize(&mut finder);
    finder.found
}

/// One step of a field path; the text is built only when a negative number is found.
#[derive(Clone, Copy)]
enum Step {
    Field(&'static str),
    Index(usize),
}

struct Finder {
    path: Vec<Step>,
    found: Vec<(String, f64)>,
}

impl Finder {
    fn number(&mut self, value: f64) {
        if value < 0.0 {
            let parts: Vec<String> = self
                .path
                .iter()
                .map(|step| match step {
                    Step::Field(name) => name.to_string(),
                    Step::Index(i) => i.to_string(),
                })
                .collect();
            self.found.push((parts.join("."), value));
        }
    }
}

/// Never raised; needed by the serde traits.
#[derive(Debug)]
struct Never;

impl fmt::Display for Never {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("never")
    }
}

impl std::error::Error for Never {}

impl ser::Error for Never {
    fn custom<T: fmt::Display>(_: T) -> Never {
        Never
    }
}

type Done = Result<(), Never>;

impl<'a> ser::Serializer for &'a mut Finder {
    type Ok = ();
    type Error = Never;
    type SerializeSeq = Nested<'a>;
    type SerializeTuple = Nested<'a>;
    type SerializeTupleStruct = Nested<'a>;
    type SerializeTupleVariant = Nested<'a>;
    type SerializeMap = Nested<'a>;
    type SerializeStruct = Nested<'a>;
    type SerializeStructVariant = Nested<'a>;

    fn serialize_bool(self, _: bool) -> Done {
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Done {
        self.number(f64::from(v));
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Done {
        self.number(f64::from(v));
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Done {
        self.number(f64::from(v));
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Done {
        self.number(v as f64);
        Ok(())
    }
    fn serialize_u8(self, _: u8) -> Done {
        Ok(())
    }
    fn serialize_u16(self, _: u16) -> Done {
        Ok(())
    }
    fn serialize_u32(self, _: u32) -> Done {
        Ok(())
    }
    fn serialize_u64(self, _: u64) -> Done {
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Done {
        self.number(f64::from(v));
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Done {
        self.number(v);
        Ok(())
    }
    fn serialize_char(self, _: char) -> Done {
        Ok(())
    }
    fn serialize_str(self, _: &str) -> Done {
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Done {
        Ok(())
    }
    fn serialize_none(self) -> Done {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Done {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Done {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Done {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Done {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Done {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        value: &T,
    ) -> Done {
        value.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Nested<'a>, Never> {
        Ok(Nested { finder: self, index: 0 })
    }
    fn serialize_tuple(self, _: usize) -> Result<Nested<'a>, Never> {
        Ok(Nested { finder: self, index: 0 })
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Nested<'a>, Never> {
        Ok(Nested { finder: self, index: 0 })
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Nested<'a>, Never> {
        Ok(Nested { finder: self, index: 0 })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Nested<'a>, Never> {
        Ok(Nested { finder: self, index: 0 })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Nested<'a>, Never> {
        Ok(Nested { finder: self, index: 0 })
    }
    fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Nested<'a>, Never> {
        Ok(Nested { finder: self, index: 0 })
    }
    /// Compact form: quantities stay numbers (no `16Gi` strings formatted just to be skipped).
    fn is_human_readable(&self) -> bool {
        false
    }
}

/// A sequence, map or struct being walked; elements are named by index, fields by name.
struct Nested<'a> {
    finder: &'a mut Finder,
    index: usize,
}

impl Nested<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, step: Step, value: &T) -> Done {
        self.finder.path.push(step);
        let result = value.serialize(&mut *self.finder);
        self.finder.path.pop();
        result
    }

    fn next_index<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        let index = self.index;
        self.index += 1;
        self.element(Step::Index(index), value)
    }
}

/// Sequences and tuples: every element is named by its position.
macro_rules! positional {
    ($($trait:ident :: $method:ident),*) => { $(
        impl ser::$trait for Nested<'_> {
            type Ok = ();
            type Error = Never;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
                self.next_index(value)
            }
            fn end(self) -> Done {
                Ok(())
            }
        }
    )* };
}

positional!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Nested<'_> {
    type Ok = ();
    type Error = Never;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, _: &T) -> Done {
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        // Map keys here are label names, never numbers that matter; name values by position.
        self.next_index(value)
    }
    fn end(self) -> Done {
        Ok(())
    }
}

/// Structs: every field is named by its name.
macro_rules! named {
    ($($trait:ident),*) => { $(
        impl ser::$trait for Nested<'_> {
            type Ok = ();
            type Error = Never;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Done {
                self.element(Step::Field(key), value)
            }
            fn end(self) -> Done {
                Ok(())
            }
        }
    )* };
}

named!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Inner {
        rate_rps: f64,
        count: u32,
    }

    #[derive(serde::Serialize)]
    struct Outer {
        name: String,
        inner: Inner,
        list: Vec<Inner>,
        maybe: Option<f64>,
    }

    #[test]
    fn finds_negative_numbers_with_their_paths() {
        let value = Outer {
            name: "x".into(),
            inner: Inner { rate_rps: -1.5, count: 3 },
            list: vec![Inner { rate_rps: 2.0, count: 0 }, Inner { rate_rps: -3.0, count: 1 }],
            maybe: Some(-0.5),
        };
        let found = negative_fields(&value);
        assert_eq!(
            found,
            vec![("inner.rate_rps".into(), -1.5), ("list.1.rate_rps".into(), -3.0), ("maybe".into(), -0.5)]
        );
        let fine = Outer { name: "y".into(), inner: Inner { rate_rps: 0.0, count: 0 }, list: vec![], maybe: None };
        assert!(negative_fields(&fine).is_empty());
    }
}
