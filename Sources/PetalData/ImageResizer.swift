import Foundation

/// Antialiased resizing of interleaved RGB bytes with a separable triangle filter whose
/// support grows with the downscale factor (as PIL's BILINEAR resize does), so shrinking
/// averages every input pixel instead of skipping some. Pixel centres are at i + 0.5.
public enum ImageResizer {
    /// Filter taps for one axis: for output index i, `counts[i]` fixed-point weights (summing
    /// to exactly 1 << 14) starting at input `starts[i]`, stored with stride `stride`.
    struct Taps {
        static let bits: Int32 = 14
        var starts: [Int]
        var counts: [Int]
        var weights: [Int32]
        var stride: Int

        init(inSize: Int, outSize: Int) {
            let scale = Double(inSize) / Double(outSize)
            let filterScale = max(scale, 1)
            let support = filterScale   // triangle filter of radius 1, stretched when shrinking
            stride = Int(ceil(support)) * 2 + 1
            starts = [Int](repeating: 0, count: outSize)
            counts = [Int](repeating: 0, count: outSize)
            weights = [Int32](repeating: 0, count: outSize * stride)
            var w = [Double](repeating: 0, count: stride)
            let one = Double(1 << Taps.bits)
            for i in 0..<outSize {
                let centre = (Double(i) + 0.5) * scale
                var lo = max(Int(floor(centre - support + 0.5)), 0)
                let hi = min(Int(floor(centre + support + 0.5)), inSize)
                var n = 0
                var total = 0.0
                for j in lo..<max(hi, lo) where n < stride {
                    w[n] = max(0, 1 - abs((Double(j) + 0.5 - centre) / filterScale))
                    total += w[n]
                    n += 1
                }
                // Drop zero-weight taps at both ends.
                var first = 0
                while first < n - 1 && w[first] == 0 { first += 1 }
                while n > first + 1 && w[n - 1] == 0 { n -= 1 }
                if total == 0 { w[first] = 1; total = 1 }
                lo += first
                var fixed = (first..<n).map { Int32((w[$0] / total * one).rounded()) }
                // Put the rounding remainder on the largest tap so constants stay exact.
                let excess = Int32(one) - fixed.reduce(0, +)
                if let k = fixed.indices.max(by: { fixed[$0] < fixed[$1] }) { fixed[k] += excess }
                starts[i] = lo
                counts[i] = fixed.count
                for (k, v) in fixed.enumerated() { weights[i * stride + k] = v }
            }
        }
    }

    /// Resizes `src` (w x h RGB) into `dst` (ow x oh RGB). Either axis left unchanged is copied.
    public static func resize(_ src: UnsafePointer<UInt8>, width w: Int, height h: Int,
                              into dst: UnsafeMutablePointer<UInt8>, width ow: Int, height oh: Int) {
        if w == ow && h == oh {
            dst.update(from: src, count: w * h * 3)
            return
        }
        if w == ow {
            vertical(src, width: w, height: h, into: dst, height: oh)
            return
        }
        if h == oh {
            horizontal(src, width: w, rows: h, into: dst, width: ow)
            return
        }
        let tmp = UnsafeMutablePointer<UInt8>.allocate(capacity: ow * h * 3)
        defer { tmp.deallocate() }
        horizontal(src, width: w, rows: h, into: tmp, width: ow)
        vertical(UnsafePointer(tmp), width: ow, height: h, into: dst, height: oh)
    }

    @inline(__always)
    static func clampByte(_ acc: Int32) -> UInt8 {
        let v = (acc &+ (1 << (Taps.bits - 1))) >> Taps.bits
        return UInt8(truncatingIfNeeded: min(max(v, 0), 255))
    }

    static func horizontal(_ src: UnsafePointer<UInt8>, width w: Int, rows: Int,
                           into dst: UnsafeMutablePointer<UInt8>, width ow: Int) {
        let taps = Taps(inSize: w, outSize: ow)
        let k = taps.stride
        taps.weights.withUnsafeBufferPointer { wb in
            taps.starts.withUnsafeBufferPointer { sb in
                taps.counts.withUnsafeBufferPointer { cb in
                    let weights = wb.baseAddress!, starts = sb.baseAddress!, counts = cb.baseAddress!
                    for y in 0..<rows {
                        let row = src + y &* w &* 3
                        let out = dst + y &* ow &* 3
                        for x in 0..<ow {
                            var r: Int32 = 0, g: Int32 = 0, b: Int32 = 0
                            let wx = weights + x &* k
                            var p = row + starts[x] &* 3
                            for t in 0..<counts[x] {
                                let c = wx[t]
                                r &+= c &* Int32(p[0]); g &+= c &* Int32(p[1]); b &+= c &* Int32(p[2])
                                p += 3
                            }
                            out[x &* 3] = clampByte(r); out[x &* 3 &+ 1] = clampByte(g); out[x &* 3 &+ 2] = clampByte(b)
                        }
                    }
                }
            }
        }
    }

    static func vertical(_ src: UnsafePointer<UInt8>, width w: Int, height h: Int,
                         into dst: UnsafeMutablePointer<UInt8>, height oh: Int) {
        let taps = Taps(inSize: h, outSize: oh)
        let k = taps.stride
        let rowBytes = w * 3
        let acc = UnsafeMutablePointer<Int32>.allocate(capacity: rowBytes)
        defer { acc.deallocate() }
        for y in 0..<oh {
            let s = taps.starts[y]
            acc.initialize(repeating: 0, count: rowBytes)
            for t in 0..<taps.counts[y] {
                let c = taps.weights[y * k + t]
                let row = src + (s + t) * rowBytes
                for i in 0..<rowBytes { acc[i] &+= c &* Int32(row[i]) }
            }
            let out = dst + y * rowBytes
            for i in 0..<rowBytes { out[i] = clampByte(acc[i]) }
        }
    }
}
