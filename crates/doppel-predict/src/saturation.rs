//! saturation
