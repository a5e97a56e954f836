//! An offline simulator of the Qonto Business API.
