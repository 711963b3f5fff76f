// tests/corpus/constexpr_test_3.cpp — corpus part 3 assembled in constant evaluation (see constexpr_check.hpp).
#include "constexpr_check.hpp"

CRUMBLE_CORPUS_PART3(CRUMBLE_CORPUS_CONSTEXPR_CASE)
