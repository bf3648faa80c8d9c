fn main() {
    // Exposes PyO3's cfgs (Py_GIL_DISABLED, Py_3_x) to this crate.
    pyo3_build_config::use_pyo3_cfgs();
}
