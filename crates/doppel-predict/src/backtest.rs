//! backtest
