//! Failure what-ifs through every layer of the twin.
