import Foundation

/// Random training-time changes to images, with the meanings of Keras's preprocessing
/// layers. The geometry (flips, rotation, zoom, shift) is applied as ONE affine warp with
/// bilinear sampling and reflect fill (Keras's default `fill_mode="reflect"`); brightness
/// and contrast follow on the warped pixels. Only training batches are augmented.
///
/// Defaults follow the flowers notebook (flips, rotation, shifts, zoom, brightness):
/// horizontal flip, 20 degrees rotation, 10% shifts, 10% zoom, 20% brightness, no vertical
/// flip and no contrast. `Augmentation.none` turns everything off; set any field to
/// `false`/0 to turn that change off.
public struct Augmentation: Codable, Sendable, Equatable {
    /// `RandomFlip("horizontal")`: mirror left-right with probability 1/2.
    public var horizontalFlip: Bool
    /// `RandomFlip("vertical")`: mirror top-bottom with probability 1/2.
    public var verticalFlip: Bool
    /// `RandomRotation`: an angle uniform in [-d, d] DEGREES, positive counter-clockwise
    /// on screen. Keras's `factor` is in fractions of a full turn: degrees = factor * 360.
    public var rotationDegrees: Float
    /// `RandomTranslation(width_factor=f)`: a horizontal shift uniform in [-f, f] * width.
    public var widthShift: Float
    /// `RandomTranslation(height_factor=f)`: a vertical shift uniform in [-f, f] * height.
    public var heightShift: Float
    /// `RandomZoom(f)`: a zoom amount z uniform in [-f, f], the same for both axes; as in
    /// Keras, positive z zooms OUT (content shrinks by 1/(1+z)), negative zooms in.
    public var zoom: Float
    /// `RandomBrightness(f, value_range=(0, 255))`: adds a delta uniform in [-f, f] * 255.
    public var brightness: Float
    /// `RandomContrast(f)`: (x - mean) * c + mean per channel, c uniform in [1-f, 1+f].
    public var contrast: Float

    public init(horizontalFlip: Bool = true, verticalFlip: Bool = false, rotationDegrees: Float = 20,
                widthShift: Float = 0.1, heightShift: Float = 0.1, zoom: Float = 0.1,
                brightness: Float = 0.2, contrast: Float = 0) {
        self.horizontalFlip = horizontalFlip
        self.verticalFlip = verticalFlip
        self.rotationDegrees = rotationDegrees
        self.widthShift = widthShift
        self.heightShift = heightShift
        self.zoom = zoom
        self.brightness = brightness
        self.contrast = contrast
    }

    enum CodingKeys: String, CodingKey {
        case horizontalFlip, verticalFlip, rotationDegrees, widthShift, heightShift, zoom, brightness, contrast
    }

    /// Reads settings where missing keys keep their defaults, so a config may name only what it changes.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Augmentation()
        horizontalFlip = try c.decodeIfPresent(Bool.self, forKey: .horizontalFlip) ?? d.horizontalFlip
        verticalFlip = try c.decodeIfPresent(Bool.self, forKey: .verticalFlip) ?? d.verticalFlip
        rotationDegrees = try c.decodeIfPresent(Float.self, forKey: .rotationDegrees) ?? d.rotationDegrees
        widthShift = try c.decodeIfPresent(Float.self, forKey: .widthShift) ?? d.widthShift
        heightShift = try c.decodeIfPresent(Float.self, forKey: .heightShift) ?? d.heightShift
        zoom = try c.decodeIfPresent(Float.self, forKey: .zoom) ?? d.zoom
        brightness = try c.decodeIfPresent(Float.self, forKey: .brightness) ?? d.brightness
        contrast = try c.decodeIfPresent(Float.self, forKey: .contrast) ?? d.contrast
    }

    /// The documented defaults.
    public static let standard = Augmentation()
    /// No augmentation at all.
    public static let none = Augmentation(horizontalFlip: false, verticalFlip: false, rotationDegrees: 0,
                                          widthShift: 0, heightShift: 0, zoom: 0, brightness: 0, contrast: 0)

    public var isNone: Bool { self == .none }

    /// Draws one image's changes. Each option draws from the generator even when off, so
    /// turning one option off does not change the others' draws.
    public func sample(_ rng: inout SplitMix64, width: Int, height: Int) -> Sample {
        let fh = rng.unit() < 0.5, fv = rng.unit() < 0.5
        let angle = rng.uniform(-1, 1) * rotationDegrees
        let dx = rng.uniform(-1, 1) * widthShift * Float(width)
        let dy = rng.uniform(-1, 1) * heightShift * Float(height)
        let z = rng.uniform(-1, 1) * zoom
        let b = rng.uniform(-1, 1) * brightness * 255
        let c = 1 + rng.uniform(-1, 1) * contrast
        return Sample(flipHorizontal: horizontalFlip && fh, flipVertical: verticalFlip && fv,
                      rotationDegrees: angle, shiftX: dx, shiftY: dy, zoom: 1 + z,
                      brightnessDelta: b, contrastFactor: c)
    }

    /// The changes drawn for one image.
    public struct Sample: Sendable, Equatable {
        public var flipHorizontal = false
        public var flipVertical = false
        /// Counter-clockwise on screen.
        public var rotationDegrees: Float = 0
        /// Content moves right/down by this many pixels.
        public var shiftX: Float = 0
        public var shiftY: Float = 0
        /// Sampling scale: > 1 zooms out (content shrinks by 1/zoom), < 1 zooms in.
        public var zoom: Float = 1
        /// Added to 0...255 values.
        public var brightnessDelta: Float = 0
        public var contrastFactor: Float = 1

        public init(flipHorizontal: Bool = false, flipVertical: Bool = false, rotationDegrees: Float = 0,
                    shiftX: Float = 0, shiftY: Float = 0, zoom: Float = 1,
                    brightnessDelta: Float = 0, contrastFactor: Float = 1) {
            self.flipHorizontal = flipHorizontal
            self.flipVertical = flipVertical
            self.rotationDegrees = rotationDegrees
            self.shiftX = shiftX
            self.shiftY = shiftY
            self.zoom = zoom
            self.brightnessDelta = brightnessDelta
            self.contrastFactor = contrastFactor
        }

        public var isIdentityGeometry: Bool {
            !flipHorizontal && !flipVertical && rotationDegrees == 0 && shiftX == 0 && shiftY == 0 && zoom == 1
        }

        /// The map from an output pixel position to the input position it samples, both
        /// in pixel coordinates (pixel i's centre at i + 0.5): input = A * output + t.
        /// The content is flipped, rotated about the centre, zoomed and then shifted.
        public func inverseMap(width: Int, height: Int) -> AffineMap {
            let cx = Float(width) / 2, cy = Float(height) / 2
            let theta = rotationDegrees * .pi / 180
            let c = cos(theta), s = sin(theta)
            // Output offset from the centre, un-shifted, scaled by zoom, rotated back (a
            // counter-clockwise turn on screen, where y points down, is (x c + y s, -x s + y c);
            // its inverse is (x c - y s, x s + y c)), then un-flipped.
            let fx: Float = flipHorizontal ? -1 : 1, fy: Float = flipVertical ? -1 : 1
            let a = fx * zoom * c, b = fx * zoom * -s
            let d = fy * zoom * s, e = fy * zoom * c
            // input - centre = M (output - centre - shift)
            let ox = -cx - shiftX, oy = -cy - shiftY
            return AffineMap(a: a, b: b, c: a * ox + b * oy + cx,
                             d: d, e: e, f: d * ox + e * oy + cy)
        }

        /// Where the input point (x, y) lands in the output (pixel coordinates).
        public func forward(x: Float, y: Float, width: Int, height: Int) -> (x: Float, y: Float) {
            inverseMap(width: width, height: height).inverted().apply(x: x, y: y)
        }
    }
}

/// x' = a x + b y + c, y' = d x + e y + f.
public struct AffineMap: Sendable, Equatable {
    public var a, b, c, d, e, f: Float

    public func apply(x: Float, y: Float) -> (x: Float, y: Float) {
        (a * x + b * y + c, d * x + e * y + f)
    }

    public func inverted() -> AffineMap {
        let det = a * e - b * d
        let ia = e / det, ib = -b / det, id = -d / det, ie = a / det
        return AffineMap(a: ia, b: ib, c: -(ia * c + ib * f), d: id, e: ie, f: -(id * c + ie * f))
    }
}

/// The pixel work of augmentation, over raw pointers.
enum AugmentationKernel {
    /// Reflects a continuous coordinate (pixel centres at i + 0.5, valid 0...n) into [0, n],
    /// mirroring at the edges: d c b a | a b c d | d c b a.
    @inline(__always)
    static func reflect(_ u: Float, _ n: Float) -> Float {
        if u >= 0 && u <= n { return u }
        let period = 2 * n
        var m = u.truncatingRemainder(dividingBy: period)
        if m < 0 { m += period }
        return m > n ? period - m : m
    }

    @inline(__always)
    static func spread(_ p: UnsafePointer<UInt8>) -> UInt64 {
        UInt64(p[0]) | UInt64(p[1]) << 16 | UInt64(p[2]) << 32
    }

    /// Warps `src` (w x h RGB) into `dst` (same size) with `map` (output -> input) and
    /// bilinear sampling with reflect fill. Weights are 8-bit fixed point; coordinates are
    /// reflected only on rows that leave the image.
    static func warp(_ src: UnsafePointer<UInt8>, into dst: UnsafeMutablePointer<UInt8>,
                     width w: Int, height h: Int, map m: AffineMap) {
        let fw = Float(w), fh = Float(h)
        let maxX = w - 1, maxY = h - 1
        let stride = w * 3
        for y in 0..<h {
            let oy = Float(y) + 0.5
            let ix0 = m.a * 0.5 + m.b * oy + m.c, iy0 = m.d * 0.5 + m.e * oy + m.f
            let ixEnd = ix0 + m.a * Float(w - 1), iyEnd = iy0 + m.d * Float(w - 1)
            let inside = min(ix0, ixEnd) >= 0 && max(ix0, ixEnd) <= fw && min(iy0, iyEnd) >= 0 && max(iy0, iyEnd) <= fh
            var ix = ix0, iy = iy0
            // Positions as 16.16 fixed point of u + 0.5 (pixel i covers u in [i, i + 1), so in
            // that form floor(index) = (p >> 16) - 1 and the fraction is the low 16 bits).
            var fx = Int32((ix0 + 0.5) * 65536), fy = Int32((iy0 + 0.5) * 65536)
            let stepX = Int32(m.a * 65536), stepY = Int32(m.d * 65536)
            var out = dst + y * stride
            for _ in 0..<w {
                let px: Int32, py: Int32
                if inside {
                    px = fx; py = fy
                    fx &+= stepX; fy &+= stepY
                } else {
                    px = Int32((reflect(ix, fw) + 0.5) * 65536); py = Int32((reflect(iy, fh) + 0.5) * 65536)
                    ix += m.a; iy += m.d
                }
                let xi = Int(px >> 16), yi = Int(py >> 16)
                let wx = (px >> 8) & 255, wy = (py >> 8) & 255
                let x0 = min(max(xi &- 1, 0), maxX), x1 = min(xi, maxX)
                let y0 = min(max(yi &- 1, 0), maxY), y1 = min(yi, maxY)
                let r0 = src + y0 &* stride, r1 = src + y1 &* stride
                let a0 = r0 + x0 &* 3, a1 = r0 + x1 &* 3, b0 = r1 + x0 &* 3, b1 = r1 + x1 &* 3
                // The three channels side by side in 16-bit lanes of one UInt64 (SWAR): each
                // weighted sum stays below 65536, so lanes never carry into each other.
                let iwx = UInt64(256 &- wx), iwy = UInt64(256 &- wy), wx64 = UInt64(wx), wy64 = UInt64(wy)
                let top = (spread(a0) &* iwx &+ spread(a1) &* wx64 &+ 0x80_0080_0080) >> 8 & 0xFF_00FF_00FF
                let bottom = (spread(b0) &* iwx &+ spread(b1) &* wx64 &+ 0x80_0080_0080) >> 8 & 0xFF_00FF_00FF
                let v = (top &* iwy &+ bottom &* wy64 &+ 0x80_0080_0080) >> 8
                out[0] = UInt8(truncatingIfNeeded: v)
                out[1] = UInt8(truncatingIfNeeded: v >> 16)
                out[2] = UInt8(truncatingIfNeeded: v >> 32)
                out += 3
            }
        }
    }
}

extension Augmentation.Sample {
    /// The image with this sample's geometry applied (bilinear, reflect fill), e.g. for
    /// previews and tests. Brightness and contrast are applied by the batch loader.
    public func warped(_ image: RGBImage) -> RGBImage {
        if isIdentityGeometry { return image }
        var out = [UInt8](repeating: 0, count: image.pixels.count)
        let map = inverseMap(width: image.width, height: image.height)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                AugmentationKernel.warp(src.baseAddress!, into: dst.baseAddress!, width: image.width,
                                        height: image.height, map: map)
            }
        }
        return RGBImage(width: image.width, height: image.height, pixels: out)
    }
}
