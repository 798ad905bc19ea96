/// Told by `Tensor.backward(reportingTo:)` when a leaf's gradient is final for this backward pass:
/// every op that read the leaf has run its backward step, so nothing adds into its `grad` any
/// more (the rest of backward still runs). Data-parallel training starts all-reducing a
/// parameter's gradient at that moment, overlapping the transfer with the rest of backward.
public protocol GradientReadyHook: AnyObject {
    /// `leaf`'s `grad` is final (nil if no gradient reached it through the ops that read it).
    func gradientIsReady(_ leaf: Tensor)
}
