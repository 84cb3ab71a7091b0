//! Four `f32` lanes: one WebAssembly SIMD128 vector in the page's wasm, a plain array elsewhere
//! (where [`super::packed_conv`] is only run by the tests; native builds use gemm's AVX kernels)
//! and natively for [`super::winograd`]'s transforms, which the compiler vectorises.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::{f32x4_add, f32x4_extract_lane, f32x4_mul, f32x4_splat, f32x4_sub, v128, v128_load, v128_load32_splat, v128_store};

    /// Four `f32` lanes in one SIMD128 vector.
    #[derive(Clone, Copy)]
    pub struct F32x4(v128);

    impl F32x4 {
        #[inline(always)]
        pub fn zero() -> Self {
            Self(f32x4_splat(0.0))
        }

        /// The four values at `at`.
        ///
        /// # Safety
        /// `at..at + 4` must be readable.
        #[inline(always)]
        pub unsafe fn load(at: *const f32) -> Self {
            // SAFETY: the caller's; v128 loads need no alignment.
            Self(unsafe { v128_load(at.cast()) })
        }

        /// The value at `at` in every lane.
        ///
        /// # Safety
        /// `at` must be readable.
        #[inline(always)]
        pub unsafe fn splat(at: *const f32) -> Self {
            // SAFETY: the caller's.
            Self(unsafe { v128_load32_splat(at.cast()) })
        }

        /// `self + a · b`, lane by lane: a multiplication then an addition (SIMD128 has no
        /// fused multiply-add), or relaxed SIMD's `f32x4.relaxed_madd` in the build with
        /// feature `relaxed-simd` (fused where the CPU has FMA; the engine chooses). The kernels
        /// that call it enable the target feature for themselves: macerator (burn Flex's SIMD)
        /// does not build with `+relaxed-simd` for the whole crate graph (E0053).
        #[inline(always)]
        pub fn mul_add(self, a: Self, b: Self) -> Self {
            #[cfg(feature = "relaxed-simd")]
            return Self(core::arch::wasm32::f32x4_relaxed_madd(a.0, b.0, self.0));
            #[cfg(not(feature = "relaxed-simd"))]
            Self(f32x4_add(self.0, f32x4_mul(a.0, b.0)))
        }

        /// `self + other`, lane by lane.
        #[inline(always)]
        pub fn add(self, other: Self) -> Self {
            Self(f32x4_add(self.0, other.0))
        }

        /// `self - other`, lane by lane.
        #[inline(always)]
        pub fn sub(self, other: Self) -> Self {
            Self(f32x4_sub(self.0, other.0))
        }

        /// `self · factor`, lane by lane.
        #[inline(always)]
        pub fn scale(self, factor: f32) -> Self {
            Self(f32x4_mul(self.0, f32x4_splat(factor)))
        }

        /// The sum of the four lanes.
        #[inline(always)]
        pub fn sum(self) -> f32 {
            (f32x4_extract_lane::<0>(self.0) + f32x4_extract_lane::<1>(self.0))
                + (f32x4_extract_lane::<2>(self.0) + f32x4_extract_lane::<3>(self.0))
        }

        /// Writes the four values to `at`.
        ///
        /// # Safety
        /// `at..at + 4` must be writable.
        #[inline(always)]
        pub unsafe fn store(self, at: *mut f32) {
            // SAFETY: the caller's.
            unsafe { v128_store(at.cast(), self.0) }
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
// `splat` and `mul_add` are packed_conv's, which natively only its tests compile.
#[allow(dead_code)]
mod imp {
    /// Four `f32` lanes in an array.
    #[derive(Clone, Copy)]
    pub struct F32x4([f32; 4]);

    impl F32x4 {
        #[inline(always)]
        pub fn zero() -> Self {
            Self([0.0; 4])
        }

        /// The four values at `at`.
        ///
        /// # Safety
        /// `at..at + 4` must be readable.
        #[inline(always)]
        pub unsafe fn load(at: *const f32) -> Self {
            // SAFETY: the caller's.
            Self(unsafe { at.cast::<[f32; 4]>().read_unaligned() })
        }

        /// The value at `at` in every lane.
        ///
        /// # Safety
        /// `at` must be readable.
        #[inline(always)]
        pub unsafe fn splat(at: *const f32) -> Self {
            // SAFETY: the caller's.
            Self([unsafe { at.read() }; 4])
        }

        /// `self + a · b`, lane by lane, rounded twice as SIMD128 rounds it.
        #[inline(always)]
        pub fn mul_add(self, a: Self, b: Self) -> Self {
            Self(std::array::from_fn(|lane| self.0[lane] + a.0[lane] * b.0[lane]))
        }

        /// `self + other`, lane by lane.
        #[inline(always)]
        pub fn add(self, other: Self) -> Self {
            Self(std::array::from_fn(|lane| self.0[lane] + other.0[lane]))
        }

        /// `self - other`, lane by lane.
        #[inline(always)]
        pub fn sub(self, other: Self) -> Self {
            Self(std::array::from_fn(|lane| self.0[lane] - other.0[lane]))
        }

        /// `self · factor`, lane by lane.
        #[inline(always)]
        pub fn scale(self, factor: f32) -> Self {
            Self(self.0.map(|value| value * factor))
        }

        /// The sum of the four lanes, in the order the SIMD128 build adds them.
        #[inline(always)]
        pub fn sum(self) -> f32 {
            (self.0[0] + self.0[1]) + (self.0[2] + self.0[3])
        }

        /// Writes the four values to `at`.
        ///
        /// # Safety
        /// `at..at + 4` must be writable.
        #[inline(always)]
        pub unsafe fn store(self, at: *mut f32) {
            // SAFETY: the caller's.
            unsafe { at.cast::<[f32; 4]>().write_unaligned(self.0) }
        }
    }
}

pub use imp::F32x4;
