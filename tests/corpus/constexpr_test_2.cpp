// tests/corpus/constexpr_test_2.cpp — corpus part 2 assembled in constant evaluation (see constexpr_check.hpp).
#include "constexpr_check.hpp"

CRUMBLE_CORPUS_PART2(CRUMBLE_CORPUS_CONSTEXPR_CASE)
