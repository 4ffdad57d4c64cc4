//! Calling a function of an image whose signature is known only at run time, when every
//! parameter and the result are integer or floating-point scalars (`aotlink run`, tests).
//!
//! Under the SysV x86_64 and AAPCS64 conventions integer and floating-point arguments travel in
//! two independent register files, in order. So a call through a type with six integer and eight
//! `f64` parameters passes any such argument list correctly: unused registers are ignored.

/// A scalar type as LLVM prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    /// `iN`, N <= 64.
    Int(u32),
    Float,
    Double,
}

/// A value of a [`Scalar`] type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f32),
    Double(f64),
}

impl Value {
    /// Bits of the value, to compare results exactly (NaN included).
    pub fn bits(self) -> u64 {
        match self {
            Value::Int(v) => v as u64,
            Value::Float(v) => v.to_bits() as u64,
            Value::Double(v) => v.to_bits(),
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v:?}"),
            Value::Double(v) => write!(f, "{v:?}"),
        }
    }
}

/// Why a signature, an argument or a call was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("unsupported signature `{0}`: only integer and floating-point scalars can be passed")]
    UnsupportedSignature(String),
    #[error("unsupported signature `{0}`: at most {MAX_INT_ARGS} integer and {MAX_FLOAT_ARGS} floating-point parameters")]
    TooManyParameters(String),
    #[error("argument {position} `{text}` is not a valid {scalar:?}")]
    BadArgument {
        /// 1-based, as a command line counts.
        position: usize,
        text: String,
        scalar: Scalar,
    },
    #[error("expected {expected} arguments, got {got}")]
    ArgumentCount { expected: usize, got: usize },
    #[error("argument {value:?} does not match {scalar:?}")]
    Mismatch { value: Value, scalar: Scalar },
}

/// A function type with scalar parameters and a scalar or `void` result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub ret: Option<Scalar>,
    pub params: Vec<Scalar>,
}

pub const MAX_INT_ARGS: usize = 6;
pub const MAX_FLOAT_ARGS: usize = 8;

impl Signature {
    /// Parses an LLVM function type such as `double (i64, double)`; `Err` says what is unsupported.
    pub fn parse(text: &str) -> Result<Signature, CallError> {
        let unsupported = || CallError::UnsupportedSignature(text.to_string());
        let (ret, rest) = text.split_once('(').ok_or_else(unsupported)?;
        let params = rest.trim().strip_suffix(')').ok_or_else(unsupported)?;
        let ret = match ret.trim() {
            "void" => None,
            other => Some(scalar(other).ok_or_else(unsupported)?),
        };
        let params: Vec<Scalar> = match params.trim() {
            "" => Vec::new(),
            list => list
                .split(',')
                .map(|p| scalar(p.trim()).ok_or_else(unsupported))
                .collect::<Result<_, _>>()?,
        };
        let ints = params
            .iter()
            .filter(|p| matches!(p, Scalar::Int(_)))
            .count();
        if ints > MAX_INT_ARGS || params.len() - ints > MAX_FLOAT_ARGS {
            return Err(CallError::TooManyParameters(text.to_string()));
        }
        Ok(Signature { ret, params })
    }

    /// Parses `text` as a value of parameter `i`'s type.
    pub fn parse_arg(&self, i: usize, text: &str) -> Result<Value, CallError> {
        let bad = || CallError::BadArgument {
            position: i + 1,
            text: text.to_string(),
            scalar: self.params[i],
        };
        Ok(match self.params[i] {
            Scalar::Int(_) => Value::Int(parse_int(text).ok_or_else(bad)?),
            Scalar::Float => Value::Float(text.parse().map_err(|_| bad())?),
            Scalar::Double => Value::Double(text.parse().map_err(|_| bad())?),
        })
    }
}

fn scalar(text: &str) -> Option<Scalar> {
    match text {
        "float" => Some(Scalar::Float),
        "double" => Some(Scalar::Double),
        _ => {
            let bits: u32 = text.strip_prefix('i')?.parse().ok()?;
            (1..=64).contains(&bits).then_some(Scalar::Int(bits))
        }
    }
}

fn parse_int(text: &str) -> Option<i64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok().map(|v| v as i64),
        None => text
            .parse::<i64>()
            .ok()
            .or_else(|| text.parse::<u64>().ok().map(|v| v as i64)),
    }
}

#[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), not(windows)))]
/// Sign-extends the low `bits` bits of `v`.
fn sign_extend(v: i64, bits: u32) -> i64 {
    let shift = 64 - bits;
    (v << shift) >> shift
}

/// Six integer and eight `f64` registers in, `R` out (see the module comment).
#[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), not(windows)))]
#[rustfmt::skip]
type Call<R> = unsafe extern "C" fn(i64, i64, i64, i64, i64, i64, f64, f64, f64, f64, f64, f64, f64, f64) -> R;

/// Calls `fptr` with `args`.
///
/// # Safety
/// `fptr` must be a function of type `sig` following the platform's C convention, and calling
/// it with these arguments must be safe.
#[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), not(windows)))]
pub unsafe fn call(
    fptr: *const std::ffi::c_void,
    sig: &Signature,
    args: &[Value],
) -> Result<Option<Value>, CallError> {
    if args.len() != sig.params.len() {
        return Err(CallError::ArgumentCount {
            expected: sig.params.len(),
            got: args.len(),
        });
    }
    let (mut ints, mut floats) = ([0i64; MAX_INT_ARGS], [0f64; MAX_FLOAT_ARGS]);
    let (mut ni, mut nf) = (0, 0);
    for (ty, arg) in sig.params.iter().zip(args) {
        match (ty, arg) {
            (Scalar::Int(bits), Value::Int(v)) => {
                ints[ni] = sign_extend(*v, *bits);
                ni += 1;
            }
            // A float travels in the low 32 bits of its vector register.
            (Scalar::Float, Value::Float(v)) => {
                floats[nf] = f64::from_bits(v.to_bits() as u64);
                nf += 1;
            }
            (Scalar::Double, Value::Double(v)) => {
                floats[nf] = *v;
                nf += 1;
            }
            _ => {
                return Err(CallError::Mismatch {
                    value: *arg,
                    scalar: *ty,
                })
            }
        }
    }
    let [a, b, c, d, e, f] = ints;
    let [p, q, r, s, t, u, v, w] = floats;
    Ok(match sig.ret {
        None | Some(Scalar::Int(_)) => {
            let fun: Call<i64> = std::mem::transmute(fptr);
            let out = fun(a, b, c, d, e, f, p, q, r, s, t, u, v, w);
            sig.ret.map(|ty| match ty {
                Scalar::Int(bits) => Value::Int(sign_extend(out, bits)),
                _ => unreachable!(),
            })
        }
        Some(ty) => {
            let fun: Call<f64> = std::mem::transmute(fptr);
            let out = fun(a, b, c, d, e, f, p, q, r, s, t, u, v, w);
            Some(match ty {
                Scalar::Float => Value::Float(f32::from_bits(out.to_bits() as u32)),
                _ => Value::Double(out),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::c_void;

    use super::*;

    #[test]
    fn parses_llvm_function_types() {
        let sig = Signature::parse("double (i64, double, i32)").unwrap();
        assert_eq!(sig.ret, Some(Scalar::Double));
        assert_eq!(
            sig.params,
            vec![Scalar::Int(64), Scalar::Double, Scalar::Int(32)]
        );
        assert_eq!(Signature::parse("void ()").unwrap().ret, None);
        assert!(Signature::parse("i8* (i64)").is_err());
        assert!(Signature::parse("i64 (i64, ...)").is_err());
        assert!(Signature::parse("i64 (i64, i64, i64, i64, i64, i64, i64)").is_err());
    }

    extern "C" fn mixed(a: i64, x: f64, b: i32, y: f32) -> f64 {
        a as f64 * x + b as f64 * y as f64
    }

    extern "C" fn narrow(a: i32, b: i8) -> i32 {
        a.wrapping_mul(b as i32)
    }

    #[test]
    fn calls_mixed_scalar_signatures() {
        let sig = Signature::parse("double (i64, double, i32, float)").unwrap();
        let args = [
            Value::Int(3),
            Value::Double(1.5),
            Value::Int(-2),
            Value::Float(0.25),
        ];
        let out = unsafe { call(mixed as *const c_void, &sig, &args) }.unwrap();
        assert_eq!(out, Some(Value::Double(4.0)));
        let sig = Signature::parse("i32 (i32, i8)").unwrap();
        let out = unsafe {
            call(
                narrow as *const c_void,
                &sig,
                &[Value::Int(-7), Value::Int(300)],
            )
        }
        .unwrap();
        assert_eq!(out, Some(Value::Int(-7 * (300i64 as i8) as i64)));
    }
}
