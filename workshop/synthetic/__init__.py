"""Synthetic sponsor and CRO deliveries for demos, tests and benchmarks: a realistic
portfolio written in exactly the feed contract's format, deterministic for a seed."""

from workshop.synthetic.portfolio import SIZES, GenerationSummary, PortfolioSpec, generate_portfolio

__all__ = ["SIZES", "GenerationSummary", "PortfolioSpec", "generate_portfolio"]
