//! The bundled example estate, embedded at build time from `examples/shop/`.

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
