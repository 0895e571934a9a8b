#pragma once
// Learning-rate schedules: the learning rate as a function of the epoch (Optimizer::set_epoch), a0
// being the initial rate. Use them with scale_by_learning_rate(schedule) or scale_by_schedule.
#include <functional>

namespace xg::optim {

using Schedule = std::function<double(long epoch)>;

Schedule constant_schedule(double a0);
// a0 / (1 + decay_rate * epoch)
Schedule inverse_time_decay(double a0, double decay_rate);
// rate^epoch * a0 (the course's 0.95^epoch * a0 by default)
Schedule exponential_decay(double a0, double rate = 0.95);
// k / sqrt(epoch) * a0, epoch counted from 1 (epoch 0 uses 1, where the formula is undefined)
Schedule inverse_sqrt_decay(double a0, double k);
// a0 * factor^floor(epoch / every): a constant rate cut by `factor` every `every` epochs
Schedule staircase_decay(double a0, double factor, long every);
// a_min + (a0 - a_min) * (1 + cos(pi * min(epoch, total) / total)) / 2
Schedule cosine_decay(double a0, long total_epochs, double a_min = 0.0);

}  // namespace xg::optim
