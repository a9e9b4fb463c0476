"""The operator API: everything an operator module may import from the engine.

Operators (this package's and third-party packs) import from here only; the rest of the
engine is private to it (checked by an import-linter contract).
"""

from engine.atomic import replace_path, temp_sibling
from engine.bundle import COEFFICIENTS, GBDT_MODEL, read_manifest, write_manifest
from engine.context import Cancelled, RunContext
from engine.errors import OperatorError, node_phrase
from engine.features.config import FeatureConfigError, to_text, validate_config
from engine.features.fit import fit_features, quantile_boundaries
from engine.features.online import (
    WOE_MISSING,
    WOE_OTHER,
    WOE_SPECIAL,
    compile_transform,
    token_index,
    woe_bin,
    woe_values,
)
from engine.features.spark import INDEX_COL, VALUE_COL, apply_transform
from engine.files import expand_paths, files_fingerprint
from engine.gbdt_encoding.spark import collect_gbdt_columns, encode_gbdt_table, gbdt_columns
from engine.metrics import binary_report, ks_threshold, score_baseline
from engine.sampledata import DATASETS, generate_to_parquet, parse_shift, sample_schema
from engine.spark import spark_error_message
from engine.spec import (
    LABEL,
    MISSING,
    POSITIVE,
    SEED_MAX,
    SIMPLE_TYPES,
    Operator,
    Param,
    Port,
    is_simple_type,
    missing_column,
    model_name_problem,
    seed_param,
    with_node,
)
from engine.sqlguard import (
    check_plan,
    expression_column_problems,
    expression_problem,
    query_column_problems,
    query_problem,
)
from engine.table_schema import Column, LinkedSchemas, TableSchema

__all__ = [
    "LABEL",
    "POSITIVE",
    "SEED_MAX",
    "SIMPLE_TYPES",
    "is_simple_type",
    "node_phrase",
    "seed_param",
    "COEFFICIENTS",
    "GBDT_MODEL",
    "binary_report",
    "score_baseline",
    "ks_threshold",
    "read_manifest",
    "write_manifest",
    "collect_gbdt_columns",
    "encode_gbdt_table",
    "gbdt_columns",
    "INDEX_COL",
    "VALUE_COL",
    "FeatureConfigError",
    "apply_transform",
    "compile_transform",
    "token_index",
    "woe_bin",
    "woe_values",
    "WOE_MISSING",
    "WOE_OTHER",
    "WOE_SPECIAL",
    "fit_features",
    "quantile_boundaries",
    "to_text",
    "validate_config",
    "DATASETS",
    "MISSING",
    "Cancelled",
    "Column",
    "Operator",
    "OperatorError",
    "Param",
    "Port",
    "RunContext",
    "TableSchema",
    "expand_paths",
    "files_fingerprint",
    "generate_to_parquet",
    "missing_column",
    "model_name_problem",
    "replace_path",
    "temp_sibling",
    "sample_schema",
    "parse_shift",
    "spark_error_message",
    "check_plan",
    "expression_problem",
    "expression_column_problems",
    "query_problem",
    "query_column_problems",
    "LinkedSchemas",
    "with_node",
]
