"""Tests for cosmos_bench.judge."""
