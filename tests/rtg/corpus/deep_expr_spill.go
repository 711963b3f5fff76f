// SPDX-License-Identifier: Apache-2.0
// deep_expr_spill: expressions up to 128 leaves deep, left-deep, right-deep and balanced, that spill registers
package main

import "crumble/rtg/runtime"

// The expressions are trees of + - * ^ | &; their leaves cycle through a load from arr, a
// variable, a constant and a load of the 64-bit cell g.
func main() int64 {
	var out [16]byte
	ptr := &out
	var arr [128]byte
	var g [8]byte
	var k int64
	for k < 16 {
		runtime.Store64(&arr, k*8, uint64(k)*0x9e3779b97f4a7c15+12345)
		k++
	}
	v0 := int64(-77)
	v1 := int64(999926)
	v2 := int64(1999929)
	v3 := int64(2999932)
	runtime.Store64(&g, 0, 0x1234567)
	runtime.Printf("%x %x\n", (((((((((((int64(runtime.Load64(&arr, 0))-v0)*-34162^int64(runtime.Load64(&g, 0))|int64(runtime.Load64(&arr, 32))+v1)&-2486+int64(runtime.Load64(&g, 0))-int64(runtime.Load64(&arr, 64)))*v2^29190|int64(runtime.Load64(&g, 0))+int64(runtime.Load64(&arr, 96)))&v3+60866-int64(runtime.Load64(&g, 0)))*int64(runtime.Load64(&arr, 0))^v0|92542+int64(runtime.Load64(&g, 0)))&int64(runtime.Load64(&arr, 32))+v1-124218)*int64(runtime.Load64(&g, 0))^int64(runtime.Load64(&arr, 64))|v2+155894)&int64(runtime.Load64(&g, 0))+int64(runtime.Load64(&arr, 96))-v3)*187570^int64(runtime.Load64(&g, 0))|int64(runtime.Load64(&arr, 0))+v0)&219246+int64(runtime.Load64(&g, 0))-int64(runtime.Load64(&arr, 32)))*v1^250922|int64(runtime.Load64(&g, 0)), int64(runtime.Load64(&arr, 0))+(v0- -34162*(int64(runtime.Load64(&g, 0))^(int64(runtime.Load64(&arr, 32))|(v1+-2486&(int64(runtime.Load64(&g, 0))+(int64(runtime.Load64(&arr, 64))-v2*(29190^(int64(runtime.Load64(&g, 0))|(int64(runtime.Load64(&arr, 96))+v3&(60866+(int64(runtime.Load64(&g, 0))-int64(runtime.Load64(&arr, 0))*(v0^(92542|(int64(runtime.Load64(&g, 0))+int64(runtime.Load64(&arr, 32))&(v1+(124218-int64(runtime.Load64(&g, 0))*(int64(runtime.Load64(&arr, 64))^(v2|(155894+int64(runtime.Load64(&g, 0))&(int64(runtime.Load64(&arr, 96))+v3)))))))))))))))))))))
	runtime.Printf("%x\n", (int64(runtime.Load64(&arr, 0))^v0)&(-34162+int64(runtime.Load64(&g, 0)))*(int64(runtime.Load64(&arr, 32))+v1^-2486*int64(runtime.Load64(&g, 0)))+(int64(runtime.Load64(&arr, 64))|v2+29190&int64(runtime.Load64(&g, 0))^(int64(runtime.Load64(&arr, 96))-v3|(60866^int64(runtime.Load64(&g, 0)))))-(int64(runtime.Load64(&arr, 0))+v0-(92542+int64(runtime.Load64(&g, 0)))|(int64(runtime.Load64(&arr, 32))*v1+(124218|int64(runtime.Load64(&g, 0))))+(int64(runtime.Load64(&arr, 64))&v2*(155894-int64(runtime.Load64(&g, 0)))+(int64(runtime.Load64(&arr, 96))^v3)&(187570+int64(runtime.Load64(&g, 0)))))|((int64(runtime.Load64(&arr, 0))+v0^219246*int64(runtime.Load64(&g, 0)))&(int64(runtime.Load64(&arr, 32))|v1+250922&int64(runtime.Load64(&g, 0)))*(int64(runtime.Load64(&arr, 64))-v2|(282598^int64(runtime.Load64(&g, 0)))+(int64(runtime.Load64(&arr, 96))+v3-(314274+int64(runtime.Load64(&g, 0)))))+(int64(runtime.Load64(&arr, 0))*v0+(345950|int64(runtime.Load64(&g, 0)))-int64(runtime.Load64(&arr, 32))&v1*(377626-int64(runtime.Load64(&g, 0)))|(int64(runtime.Load64(&arr, 64))^v2)&(409302+int64(runtime.Load64(&g, 0)))*(int64(runtime.Load64(&arr, 96))+v3^440978*int64(runtime.Load64(&g, 0)))))+((int64(runtime.Load64(&arr, 0))|v0+472654&int64(runtime.Load64(&g, 0))^(int64(runtime.Load64(&arr, 32))-v1|(504330^int64(runtime.Load64(&g, 0)))))&(int64(runtime.Load64(&arr, 64))+v2-(536006+int64(runtime.Load64(&g, 0)))|(int64(runtime.Load64(&arr, 96))*v3+(567682|int64(runtime.Load64(&g, 0)))))*(int64(runtime.Load64(&arr, 0))&v0*(599358-int64(runtime.Load64(&g, 0)))+(int64(runtime.Load64(&arr, 32))^v1)&(631034+int64(runtime.Load64(&g, 0)))-(int64(runtime.Load64(&arr, 64))+v2^662710*int64(runtime.Load64(&g, 0)))&(int64(runtime.Load64(&arr, 96))|v3+694386&int64(runtime.Load64(&g, 0))))+(int64(runtime.Load64(&arr, 0))-v0|(726062^int64(runtime.Load64(&g, 0)))+(int64(runtime.Load64(&arr, 32))+v1-(757738+int64(runtime.Load64(&g, 0))))^(int64(runtime.Load64(&arr, 64))*v2+(789414|int64(runtime.Load64(&g, 0)))-int64(runtime.Load64(&arr, 96))&v3*(821090-int64(runtime.Load64(&g, 0)))))&((int64(runtime.Load64(&arr, 0))^v0)&(852766+int64(runtime.Load64(&g, 0)))*(int64(runtime.Load64(&arr, 32))+v1^884442*int64(runtime.Load64(&g, 0)))+(int64(runtime.Load64(&arr, 64))|v2+916118&int64(runtime.Load64(&g, 0))^(int64(runtime.Load64(&arr, 96))-v3|(947794^int64(runtime.Load64(&g, 0))))))))
	runtime.Printf("%x %x\n", int64(runtime.Load64(&g, 0))^(int64(runtime.Load64(&arr, 32))|(v1+-2486&(int64(runtime.Load64(&g, 0))+(int64(runtime.Load64(&arr, 64))-v2*(29190^(int64(runtime.Load64(&g, 0))|int64(runtime.Load64(&arr, 96))))))))+(v2+29190-(int64(runtime.Load64(&g, 0))+int64(runtime.Load64(&arr, 96)))|(v3*60866+(int64(runtime.Load64(&g, 0))|int64(runtime.Load64(&arr, 0))))+(v0&92542*(int64(runtime.Load64(&g, 0))-int64(runtime.Load64(&arr, 32)))+(v1^124218)&(int64(runtime.Load64(&g, 0))+int64(runtime.Load64(&arr, 64))))), (-34162+int64(runtime.Load64(&g, 0))-(int64(runtime.Load64(&arr, 32))+v1)|(-2486*int64(runtime.Load64(&g, 0))+(int64(runtime.Load64(&arr, 64))|v2))+(29190&int64(runtime.Load64(&g, 0))*(int64(runtime.Load64(&arr, 96))-v3)+(60866^int64(runtime.Load64(&g, 0)))&(int64(runtime.Load64(&arr, 0))+v0))^(92542+int64(runtime.Load64(&g, 0))^int64(runtime.Load64(&arr, 32))*v1)&(124218|int64(runtime.Load64(&g, 0))+int64(runtime.Load64(&arr, 64))&v2)*(155894-int64(runtime.Load64(&g, 0))|(int64(runtime.Load64(&arr, 96))^v3)+(187570+int64(runtime.Load64(&g, 0))-(int64(runtime.Load64(&arr, 0))+v0))))*(v0- -34162*(int64(runtime.Load64(&g, 0))^(int64(runtime.Load64(&arr, 32))|(v1+-2486&(int64(runtime.Load64(&g, 0))+(int64(runtime.Load64(&arr, 64))-v2)))))))
	runtime.Printf("%d %d\n", b2i(v1 - -2486 | (int64(runtime.Load64(&g, 0))^int64(runtime.Load64(&arr, 64))) + (v2+29190-(int64(runtime.Load64(&g, 0))+int64(runtime.Load64(&arr, 96)))) < int64(runtime.Load64(&g, 0))^(int64(runtime.Load64(&arr, 32))|(v1+-2486&(int64(runtime.Load64(&g, 0))+(int64(runtime.Load64(&arr, 64))-v2*(29190^(int64(runtime.Load64(&g, 0))|(int64(runtime.Load64(&arr, 96))+v3&60866)))))))), b2i(uint64(int64(runtime.Load64(&g, 0))^(int64(runtime.Load64(&arr, 32))|(v1+-2486&(int64(runtime.Load64(&g, 0))+(int64(runtime.Load64(&arr, 64))-v2*(29190^(int64(runtime.Load64(&g, 0))|(int64(runtime.Load64(&arr, 96))+v3&60866)))))))) > uint64(v1 - -2486 | (int64(runtime.Load64(&g, 0))^int64(runtime.Load64(&arr, 64))) + (v2+29190-(int64(runtime.Load64(&g, 0))+int64(runtime.Load64(&arr, 96)))))))
	if -34162*(int64(runtime.Load64(&g, 0))^(int64(runtime.Load64(&arr, 32))|(v1+-2486&(int64(runtime.Load64(&g, 0))+(int64(runtime.Load64(&arr, 64))-v2*(29190^(int64(runtime.Load64(&g, 0))|(int64(runtime.Load64(&arr, 96))+v3&(60866+int64(runtime.Load64(&g, 0))))))))))) == -34162*(int64(runtime.Load64(&g, 0))^(int64(runtime.Load64(&arr, 32))|(v1+-2486&(int64(runtime.Load64(&g, 0))+(int64(runtime.Load64(&arr, 64))-v2*(29190^(int64(runtime.Load64(&g, 0))|(int64(runtime.Load64(&arr, 96))+v3&(60866+int64(runtime.Load64(&g, 0))))))))))) {
		runtime.Printf("eq ok\n")
	}
	runtime.Store64(ptr+uintptr((int64(runtime.Load64(&arr, 0))+(v0- -34162*(int64(runtime.Load64(&g, 0))^(int64(runtime.Load64(&arr, 32))|(v1+-2486&int64(runtime.Load64(&g, 0)))))))&8), 0, int64(runtime.Load64(&g, 0))+(int64(runtime.Load64(&arr, 64))-v2*(29190^(int64(runtime.Load64(&g, 0))|(int64(runtime.Load64(&arr, 96))+v3&(60866+(int64(runtime.Load64(&g, 0))-int64(runtime.Load64(&arr, 0))*(v0^(92542|(int64(runtime.Load64(&g, 0))+int64(runtime.Load64(&arr, 32))&(v1+(124218-int64(runtime.Load64(&g, 0))*(int64(runtime.Load64(&arr, 64))^(v2|(155894+int64(runtime.Load64(&g, 0))&(int64(runtime.Load64(&arr, 96))+(v3-187570*int64(runtime.Load64(&g, 0)))))))))))))))))))
	runtime.Printf("%x %x\n", runtime.Load64(&out, 0), runtime.Load64(&out, 8))
	r := v0 - -34162*(int64(runtime.Load64(&g, 0))^(int64(runtime.Load64(&arr, 32))|(v1+-2486&(int64(runtime.Load64(&g, 0))+(int64(runtime.Load64(&arr, 64))-v2*(29190^(int64(runtime.Load64(&g, 0))|(int64(runtime.Load64(&arr, 96))+v3&(60866+(int64(runtime.Load64(&g, 0))-int64(runtime.Load64(&arr, 0))*(v0^(92542|(int64(runtime.Load64(&g, 0))+int64(runtime.Load64(&arr, 32)))))))))))))))
	return r
}

func b2i(c bool) int64 {
	if c {
		return 1
	}
	return 0
}
