// tests/corpus/constexpr_test_4.cpp — corpus part 4 assembled in constant evaluation (see constexpr_check.hpp).
#include "constexpr_check.hpp"

CRUMBLE_CORPUS_PART4(CRUMBLE_CORPUS_CONSTEXPR_CASE)
