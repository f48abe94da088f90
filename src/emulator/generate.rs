//! Synthetic tenants (filled in below).
