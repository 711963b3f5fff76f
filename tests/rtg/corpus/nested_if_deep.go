// SPDX-License-Identifier: Apache-2.0
// nested_if_deep: a full binary tree of if/else seven deep (each level tests one bit of n in a different
// way), and a ladder of ifs eight deep, some with else branches
package main

import "crumble/rtg/runtime"

func main() int64 {
	var s int64
	var t int64
	var u int64
	var n int64 = -3
	for n < 131 {
		s += classify(n&127) ^ n
		t += ladder(n)
		u = u*31 + ladder(n)
		n++
	}
	runtime.Printf("%d %d %d %d %d\n", s, t, u, classify(77), ladder(5))
	return classify(5)
}

// classify returns n*7+3 for n in 0..127, found bit by bit.
func classify(n int64) int64 {
	var r int64
	if n&64 != 0 {
		if !(n&32 == 0) {
			if uint64(n&16) > 0 {
				if n&8 != 0 {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 892
							} else {
								r = 885
							}
						} else {
							if n&1 != 0 {
								r = 878
							} else {
								r = 871
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 864
							} else {
								r = 857
							}
						} else {
							if n&1 != 0 {
								r = 850
							} else {
								r = 843
							}
						}
					}
				} else {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 836
							} else {
								r = 829
							}
						} else {
							if n&1 != 0 {
								r = 822
							} else {
								r = 815
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 808
							} else {
								r = 801
							}
						} else {
							if n&1 != 0 {
								r = 794
							} else {
								r = 787
							}
						}
					}
				}
			} else {
				if n&8 != 0 {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 780
							} else {
								r = 773
							}
						} else {
							if n&1 != 0 {
								r = 766
							} else {
								r = 759
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 752
							} else {
								r = 745
							}
						} else {
							if n&1 != 0 {
								r = 738
							} else {
								r = 731
							}
						}
					}
				} else {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 724
							} else {
								r = 717
							}
						} else {
							if n&1 != 0 {
								r = 710
							} else {
								r = 703
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 696
							} else {
								r = 689
							}
						} else {
							if n&1 != 0 {
								r = 682
							} else {
								r = 675
							}
						}
					}
				}
			}
		} else {
			if uint64(n&16) > 0 {
				if n&8 != 0 {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 668
							} else {
								r = 661
							}
						} else {
							if n&1 != 0 {
								r = 654
							} else {
								r = 647
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 640
							} else {
								r = 633
							}
						} else {
							if n&1 != 0 {
								r = 626
							} else {
								r = 619
							}
						}
					}
				} else {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 612
							} else {
								r = 605
							}
						} else {
							if n&1 != 0 {
								r = 598
							} else {
								r = 591
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 584
							} else {
								r = 577
							}
						} else {
							if n&1 != 0 {
								r = 570
							} else {
								r = 563
							}
						}
					}
				}
			} else {
				if n&8 != 0 {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 556
							} else {
								r = 549
							}
						} else {
							if n&1 != 0 {
								r = 542
							} else {
								r = 535
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 528
							} else {
								r = 521
							}
						} else {
							if n&1 != 0 {
								r = 514
							} else {
								r = 507
							}
						}
					}
				} else {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 500
							} else {
								r = 493
							}
						} else {
							if n&1 != 0 {
								r = 486
							} else {
								r = 479
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 472
							} else {
								r = 465
							}
						} else {
							if n&1 != 0 {
								r = 458
							} else {
								r = 451
							}
						}
					}
				}
			}
		}
	} else {
		if !(n&32 == 0) {
			if uint64(n&16) > 0 {
				if n&8 != 0 {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 444
							} else {
								r = 437
							}
						} else {
							if n&1 != 0 {
								r = 430
							} else {
								r = 423
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 416
							} else {
								r = 409
							}
						} else {
							if n&1 != 0 {
								r = 402
							} else {
								r = 395
							}
						}
					}
				} else {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 388
							} else {
								r = 381
							}
						} else {
							if n&1 != 0 {
								r = 374
							} else {
								r = 367
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 360
							} else {
								r = 353
							}
						} else {
							if n&1 != 0 {
								r = 346
							} else {
								r = 339
							}
						}
					}
				}
			} else {
				if n&8 != 0 {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 332
							} else {
								r = 325
							}
						} else {
							if n&1 != 0 {
								r = 318
							} else {
								r = 311
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 304
							} else {
								r = 297
							}
						} else {
							if n&1 != 0 {
								r = 290
							} else {
								r = 283
							}
						}
					}
				} else {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 276
							} else {
								r = 269
							}
						} else {
							if n&1 != 0 {
								r = 262
							} else {
								r = 255
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 248
							} else {
								r = 241
							}
						} else {
							if n&1 != 0 {
								r = 234
							} else {
								r = 227
							}
						}
					}
				}
			}
		} else {
			if uint64(n&16) > 0 {
				if n&8 != 0 {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 220
							} else {
								r = 213
							}
						} else {
							if n&1 != 0 {
								r = 206
							} else {
								r = 199
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 192
							} else {
								r = 185
							}
						} else {
							if n&1 != 0 {
								r = 178
							} else {
								r = 171
							}
						}
					}
				} else {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 164
							} else {
								r = 157
							}
						} else {
							if n&1 != 0 {
								r = 150
							} else {
								r = 143
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 136
							} else {
								r = 129
							}
						} else {
							if n&1 != 0 {
								r = 122
							} else {
								r = 115
							}
						}
					}
				}
			} else {
				if n&8 != 0 {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 108
							} else {
								r = 101
							}
						} else {
							if n&1 != 0 {
								r = 94
							} else {
								r = 87
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 80
							} else {
								r = 73
							}
						} else {
							if n&1 != 0 {
								r = 66
							} else {
								r = 59
							}
						}
					}
				} else {
					if !(n&4 == 0) {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 52
							} else {
								r = 45
							}
						} else {
							if n&1 != 0 {
								r = 38
							} else {
								r = 31
							}
						}
					} else {
						if uint64(n&2) > 0 {
							if n&1 != 0 {
								r = 24
							} else {
								r = 17
							}
						} else {
							if n&1 != 0 {
								r = 10
							} else {
								r = 3
							}
						}
					}
				}
			}
		}
	}
	return r
}

// ladder counts how many of n > 0 ... n > 7 hold, and where an even level stopped the descent.
func ladder(n int64) int64 {
	var c int64
	var e int64
	if n > 0 {
		c++
		if n > 1 {
			c++
			if n > 2 {
				c++
				if n > 3 {
					c++
					if n > 4 {
						c++
						if n > 5 {
							c++
							if n > 6 {
								c++
								if n > 7 {
									c++
								}
							} else {
								e = 106
							}
						}
					} else {
						e = 104
					}
				}
			} else {
				e = 102
			}
		}
	} else {
		e = 100
	}
	return c*1000 + e
}
