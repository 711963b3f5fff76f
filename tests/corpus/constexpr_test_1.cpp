// tests/corpus/constexpr_test_1.cpp — corpus part 1 assembled in constant evaluation (see constexpr_check.hpp).
#include "constexpr_check.hpp"

CRUMBLE_CORPUS_PART1(CRUMBLE_CORPUS_CONSTEXPR_CASE)
