"""Hypothesis strategies shared by the property tests."""

from hypothesis import strategies as st

prices = st.floats(min_value=1.0, max_value=1e6, allow_nan=False, allow_infinity=False)
quantities = st.floats(min_value=1e-4, max_value=1e4, allow_nan=False, allow_infinity=False)
contract_values = st.sampled_from([1.0, 10.0, 100.0])
contracts = st.integers(min_value=1, max_value=10_000_000).map(float)
leverages = st.floats(min_value=1.0, max_value=125.0, allow_nan=False)
mmrs = st.floats(min_value=0.0, max_value=0.2, allow_nan=False)
sides = st.sampled_from(["long", "short"])
moves = st.floats(min_value=-0.95, max_value=5.0, allow_nan=False)
contract_types = st.sampled_from(["inverse", "linear"])
mm_bases = st.sampled_from(["mark", "entry"])
maintenance_amounts = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)
fee_rates = st.just(0.0) | st.floats(min_value=0.0, max_value=0.001, allow_nan=False)
